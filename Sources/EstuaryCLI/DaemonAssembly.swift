import EstuaryConfig
import EstuaryCrypto
import EstuaryFiles
import EstuaryIO
import EstuaryPipeline
import EstuaryWire
import Logging

/// Turns a validated configuration into the pipeline's settings: reads the files it names
/// (types.db, AuthFile) and builds decoders. Errors name the input and the file.
enum DaemonAssembly {
    static func settings(_ configuration: EstuaryConfiguration) throws(RuntimeError) -> DaemonSettings {
        let global = configuration.global
        var settings = DaemonSettings(hostname: global.hostname, batchLines: global.batchLines,
                                      batchInterval: global.batchInterval, metricsInterval: global.metricsInterval,
                                      shutdownTimeout: global.shutdownTimeout)
        if let listen = global.healthListen {
            do {
                settings.health = HTTPServerOptions(listen: try SocketAddress(host: listen.host, port: listen.port))
            } catch {
                throw RuntimeError("health_listen: \(error)")
            }
        }
        var typesDBs: [[String]: TypesDB] = [:]
        func typesDB(_ paths: [String], input: String) throws(RuntimeError) -> TypesDB {
            if let loaded = typesDBs[paths] { return loaded }
            do {
                let loaded = try CollectdFiles.loadTypesDB(paths: paths)
                typesDBs[paths] = loaded
                return loaded
            } catch {
                throw RuntimeError("input \(input): types_db: \(error)")
            }
        }
        for input in configuration.collectdInputs {
            let types = try typesDB(input.typesDB, input: input.name)
            var authFile: CollectdAuthFile?
            if let path = input.authFile {
                do {
                    authFile = try CollectdFiles.loadAuthFile(path: path)
                } catch {
                    throw RuntimeError("input \(input.name): auth_file: \(error)")
                }
            }
            let decoder: CollectdPacketDecoder
            do {
                decoder = try CollectdPacketDecoder(securityLevel: input.securityLevel, authFile: authFile,
                                                    cryptography: authFile == nil ? nil : LibcryptoCollectdCryptography())
            } catch {
                throw RuntimeError("input \(input.name): \(error)")
            }
            settings.collectdInputs.append(CollectdInputSettings(
                name: input.name,
                receiver: UDPReceiverOptions(listen: try address(input.listen, input: input.name), receiveBuffer: input.readBuffer,
                                             readers: input.readers, maxDatagram: input.maxDatagram,
                                             tickInterval: tickInterval(global.batchInterval), allow: input.allow),
                decoder: decoder,
                mapper: CollectdPointMapper(typesDB: types, schema: input.schema, storeRates: input.storeRates)))
        }
        for input in configuration.graphiteInputs {
            let types = input.collectdPaths ? try typesDB(input.typesDB, input: input.name) : TypesDB()
            let decoder = GraphiteDecoder(
                configuration: GraphiteDecoderConfiguration(collectdPaths: input.collectdPaths, writeGraphite: input.writeGraphite,
                                                            schema: input.schema, templates: input.templateSet,
                                                            maxLineLength: input.maxLineLength),
                typesDB: types)
            var tcp: TCPListenerOptions?
            if let listen = input.listenTCP {
                tcp = TCPListenerOptions(listen: try address(listen, input: input.name), maxConnections: input.maxConnections,
                                         maxLineLength: input.maxLineLength, idleTimeout: input.idleTimeout,
                                         readTimeout: input.readTimeout, tickInterval: tickInterval(global.batchInterval),
                                         allow: input.allow)
            }
            var udp: UDPReceiverOptions?
            if let listen = input.listenUDP {
                udp = UDPReceiverOptions(listen: try address(listen, input: input.name), receiveBuffer: input.readBuffer,
                                         tickInterval: tickInterval(global.batchInterval), allow: input.allow)
            }
            settings.graphiteInputs.append(GraphiteInputSettings(name: input.name, tcp: tcp, udp: udp, decoder: decoder))
        }
        return settings
    }

    /// Receivers tick often enough to hand over a batch within batch_interval.
    private static func tickInterval(_ batchInterval: Double) -> Double {
        min(max(batchInterval / 2, 0.01), 1)
    }

    private static func address(_ listen: ListenAddress, input: String) throws(RuntimeError) -> SocketAddress {
        do {
            return try SocketAddress(host: listen.host, port: listen.port)
        } catch {
            throw RuntimeError("input \(input): listen: \(error)")
        }
    }

    /// swift-log's level for the configured one (the same names).
    static func logLevel(_ level: LogLevel) -> Logger.Level {
        Logger.Level(rawValue: level.rawValue) ?? .info
    }
}
