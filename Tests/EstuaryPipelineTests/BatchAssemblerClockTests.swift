import EstuaryPipeline
import EstuaryRuntime
import EstuaryWire
import Testing

/// The batch interval decided by a manual clock: the test moves the clock and ticks.
@Suite("batch assembler by the clock")
struct BatchAssemblerClockTests {
    func write(_ text: String, to assembler: BatchAssembler) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { assembler.buffer.appendBytes($0) }
        assembler.wrote(lines: bytes.count(where: { $0 == UInt8(ascii: "\n") }))
    }

    @Test("a batch is sealed when its first line has waited batch_interval by the clock, not before")
    func sealsOnInterval() throws {
        let clock = ManualClock()
        let output = CaptureOutput()
        let assembler = BatchAssembler(router: Router(outputs: [output], metrics: SelfMetrics()), source: "clock",
                                       batchLines: 1000, batchInterval: 0.2, clock: clock)
        let first = clock.monotonicNow()
        write("a value=1\n", to: assembler)
        assembler.tick()
        #expect(!assembler.isDue)
        clock.advance(by: 0.1)
        write("b value=2\n", to: assembler)  // a later line does not restart the interval
        clock.advance(by: 0.099)
        assembler.tick()
        #expect(!assembler.isDue)
        #expect(output.all.isEmpty)
        clock.advance(by: 0.001)
        #expect(assembler.isDue)
        assembler.tick()
        let batches = output.all
        try #require(batches.count == 1)
        #expect(batches.first?.lines == 2)
        #expect(batches.first?.receivedAt == first)
        #expect(!assembler.isDue)
        clock.advance(by: 10)
        assembler.tick()
        #expect(output.all.count == 1, "nothing waits: nothing to seal")
    }
}
