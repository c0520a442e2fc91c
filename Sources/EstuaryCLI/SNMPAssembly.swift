import EstuaryConfig
import EstuarySNMP
import EstuarySNMPPoller
import Logging

/// Turns `[[inputs.snmp]]` into the poller's inputs: host names are resolved here, once,
/// so the poller thread never waits on DNS; a name that does not resolve is logged and
/// left out (it is tried again on the next SIGHUP).
enum SNMPAssembly {
    static func inputs(_ configuration: EstuaryConfiguration, logger: Logger) -> [SNMPInputSettings] {
        configuration.snmpInputs.map { input in
            SNMPInputSettings(name: input.name, devices: resolved(input.devices, input: input.name, logger: logger),
                              schema: input.schema, window: input.window)
        }
    }

    static func resolved(_ devices: [SNMPDeviceSettings], input: String, logger: Logger) -> [SNMPDeviceSettings] {
        var result: [SNMPDeviceSettings] = []
        result.reserveCapacity(devices.count)
        for var device in devices {
            if !SNMPHostResolver.isNumeric(device.target.host) {
                guard let address = SNMPHostResolver.resolve(device.target.host) else {
                    logger.error("SNMP device left out: its name does not resolve",
                                 metadata: ["input.name": "\(input)", "snmp.agent": "\(device.target.agent)"])
                    continue
                }
                if device.target.name == nil { device.target.name = device.target.host }
                device.target.host = address
            }
            result.append(device)
        }
        return result
    }

    /// Re-reads every SNMP input's targets file (SIGHUP). Inputs whose file has mistakes keep
    /// their devices; the mistakes are logged with file and line.
    static func reload(_ configuration: EstuaryConfiguration, poller: SNMPPoller, logger: Logger) {
        for input in configuration.snmpInputs where input.targetsFile != nil {
            switch input.reloadDevices() {
            case .success(let devices):
                let resolvedDevices = resolved(devices, input: input.name, logger: logger)
                poller.reload(input: input.name, devices: resolvedDevices)
                logger.notice("SNMP targets re-read", metadata: ["input.name": "\(input.name)",
                                                                 "snmp.devices": "\(resolvedDevices.count)"])
            case .failure(let errors):
                for error in errors.errors {
                    logger.error("SNMP targets file not reloaded (devices unchanged): \(error.description)",
                                 metadata: ["input.name": "\(input.name)"])
                }
            }
        }
    }
}
