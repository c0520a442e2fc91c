#if canImport(Glibc)
import Glibc
#endif

/// A dedicated pthread running one closure: the writer of an output. Blocking I/O (libcurl)
/// belongs on its own thread, not on Dispatch's global queues, which run at most one work
/// item per core.
final class WriterThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void
    private let name: String

    private init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }

    /// Starts `body` on a new thread. Returns nil if the thread could not be created.
    /// (`name` is for debugging; pthread_setname_np is a GNU extension Glibc does not export.)
    static func start(name: String, body: @escaping @Sendable () -> Void) -> WriterThread? {
        let writer = WriterThread(name: name, body: body)
        let context = Unmanaged.passRetained(writer).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 1 << 20)
        let rc = pthread_create(&writer.thread, &attributes, { context in
            guard let context else { return nil }
            let writer = Unmanaged<WriterThread>.fromOpaque(context).takeRetainedValue()
            writer.body()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<WriterThread>.fromOpaque(context).release()
            return nil
        }
        return writer
    }

    /// Waits for the thread to end (call once, after it has signalled that it is ending).
    func join() {
        pthread_join(thread, nil)
    }

    /// Lets the thread end on its own, unwaited.
    func detach() {
        pthread_detach(thread)
    }
}
