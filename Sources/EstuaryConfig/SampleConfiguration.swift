// Generated from examples/estuary.toml by scripts/generate-sample-config.sh; do not edit.
// EstuaryConfigTests checks that the two are byte-identical.

extension EstuaryConfiguration {
    /// The fully commented sample configuration (examples/estuary.toml), printed by
    /// `estuary sample-config`. It parses, and its settings are a working local setup.
    public static let sample: String = #"""
# Estuary configuration
#
# Estuary relays metrics from collectd's network protocol and graphite plaintext to
# InfluxDB. This is the full sample (`estuary sample-config` prints it): it works as it is
# (collectd on 127.0.0.1:25826, graphite on 127.0.0.1:2003, InfluxDB on 127.0.0.1:8086), and
# every other key is here too, commented out, with its default value.
#
# Docs/configuration.md describes every key. Check a file with `estuary check-config FILE`:
# unknown keys, wrong types and unknown values are errors, never silently ignored.
#
# Durations are strings with a unit: "500ms", "10s", "1.5s", "2m", "1h", "1m30s".
# Sizes are a number of bytes or a string with a unit: "512KiB", "8MiB", "1GiB", "4MB".


###############################################################################
#                            GLOBAL SETTINGS                                  #
###############################################################################

## Global keys go here, at the top, before the first [[inputs...]] or [[outputs...]]
## table: below a table header, a key belongs to that table.

## Where Estuary keeps its state: each output's on-disk spool. A relative path is
## relative to the working directory. Default "/var/lib/estuary".
data_dir = "./data"

## The host tag of Estuary's own metrics. Default: the machine's host name.
# hostname = "relay-1.example.org"

## trace, debug, info, notice, warning, error or critical.
# log_level = "info"

## How often Estuary writes its own metrics (measurements estuary_*) to the outputs.
# metrics_interval = "10s"

## How long the final flush may take on SIGTERM or SIGINT; what is not written by then
## goes to the spool and is sent after the next start.
# shutdown_timeout = "10s"

## Receivers hand points over in batches of at most batch_lines lines, and at least every
## batch_interval.
# batch_lines = 1000
# batch_interval = "200ms"

## The HTTP health endpoint: GET /health (JSON; 200 while every output is healthy, 503
## otherwise) and GET /metrics (Prometheus text). Off unless set; keep it on loopback, or
## behind a firewall: it tells anyone who asks what the relay is doing.
health_listen = "127.0.0.1:8125"


###############################################################################
#                              INPUT PLUGINS                                  #
###############################################################################

# collectd's binary network protocol (the network plugin), over UDP. Point collectd's
# network plugin at it: <Server "127.0.0.1" "25826">.
[[inputs.collectd]]
  ## The input's name in logs and self-metrics. Default "collectd" (then "collectd-2",
  ## "collectd-3", ... for further [[inputs.collectd]] tables).
  # name = "collectd"

  ## The UDP address: "host:port", "[::1]:25826" (IPv6), ":25826" (every interface).
  listen = "127.0.0.1:25826"

  ## collectd's types.db files, which name each type's data sources.
  # types_db = ["/usr/share/collectd/types.db"]

  ## collectd's SecurityLevel: "none", "sign" (signed or encrypted data only) or
  ## "encrypt" (encrypted data only). sign and encrypt need auth_file, collectd's AuthFile
  ## ("user: password" lines). At "none", an auth_file lets signed data be verified and
  ## encrypted data be read.
  # security_level = "none"
  # auth_file = "/etc/collectd/passwd"

  ## "split": one point per data source, measurement <plugin>_<dsname>, field "value"
  ## (InfluxDB's own collectd service). "join": one point per value list, measurement
  ## <plugin>, one field per data source.
  # schema = "split"

  ## Turn COUNTER, DERIVE and ABSOLUTE values into per-second rates (the first value of a
  ## series then gives no point). Default: raw values, as InfluxDB stores them.
  # store_rates = false

  ## The socket's receive buffer (SO_RCVBUF); the kernel may cap it at net.core.rmem_max.
  # read_buffer = "8MiB"

  ## Sockets reading the port (SO_REUSEPORT), each with its own thread: 1 to 16.
  # readers = 1

  ## The largest datagram taken, in bytes (1024 to 65535); larger ones are dropped and
  ## counted.
  # max_datagram = 65535

  ## Who may send: networks in CIDR notation, IPv4 and IPv6 ("192.0.2.0/24",
  ## "2001:db8::/32", or one address). Datagrams from anyone else are dropped before they
  ## are decoded, and counted (rejected, reason not_allowed). Default: everyone.
  # allow = ["127.0.0.0/8", "::1/128"]


# Graphite plaintext ("path value [timestamp]" lines) over TCP and UDP, including the
# paths collectd's write_graphite plugin makes.
[[inputs.graphite]]
  ## The input's name in logs and self-metrics. Default "graphite" (then "graphite-2", ...).
  # name = "graphite"

  ## Where to listen; at least one of the two.
  listen_tcp = "127.0.0.1:2003"
  listen_udp = "127.0.0.1:2003"

  ## Read collectd write_graphite paths back into the measurements, tags and fields the
  ## binary protocol gives. Paths that do not read as write_graphite paths go to the
  ## templates.
  # collectd_paths = true

  ## The senders' write_graphite options (Prefix, Postfix, EscapeCharacter,
  ## SeparateInstances, AlwaysAppendDS, ReverseHost, DropDuplicateFields); they must match
  ## the senders' collectd.conf.
  # prefix = ""
  # postfix = ""
  # escape_character = "_"
  # separate_instances = false
  # always_append_ds = false
  # reverse_host = false
  # drop_duplicate_fields = false

  ## The schema collectd paths map to ("split" or "join", as above) and their types.db.
  # schema = "split"
  # types_db = ["/usr/share/collectd/types.db"]

  ## Templates for other paths, InfluxDB's syntax: "[filter] template [tag=value,...]"
  ## (Docs/graphite-templates.md). Without a match, the whole path is the measurement.
  # templates = [
  #   "servers.* .host.resource.measurement*",
  #   "sensu.metric.* ..measurement.host.interface.field",
  # ]

  ## Joins the path parts that end up in one measurement, tag or field.
  # separator = "."

  ## Longer lines are rejected and counted.
  # max_line_length = 16384

  ## TCP connections open at once; further ones are closed at once and counted.
  # max_connections = 1024

  ## A TCP connection quiet this long is closed; "0s" never closes one.
  # idle_timeout = "5m"

  ## A TCP line must arrive whole within this long of its first byte, or the connection
  ## is closed and the unfinished line thrown away (slow senders holding connections
  ## open, a byte at a time); "0s" never. Counted as connections_read_timeout.
  # read_timeout = "30s"

  ## Who may connect (TCP) or send (UDP), as for [[inputs.collectd]]. Default: everyone.
  # allow = ["127.0.0.0/8", "::1/128"]

  ## The UDP socket's receive buffer (SO_RCVBUF).
  # read_buffer = "8MiB"


# SNMP polling of devices that run no agent (switches, routers): IF-MIB interface counters
# in the same series collectd's interface plugin gives a Linux host, plus any tables and
# scalars you add. Uncomment and list your devices to use it (Docs/snmp.md).
# [[inputs.snmp]]
  ## The input's name in logs and self-metrics. Default "snmp" (then "snmp-2", ...).
  # name = "snmp"

  ## Devices: "address[:port] [name] [credentials]", inline and/or one per line in a file
  ## ("#" comments; re-read on SIGHUP). The name is the host tag (default: sysName);
  ## credentials name a [inputs.snmp.credentials.NAME] table below.
  # targets = ["192.0.2.10", "192.0.2.11:161 core-sw1"]
  # targets_file = "/etc/estuary/snmp-targets.txt"

  ## Version ("1", "2c" or "3") and credentials for every device without its own.
  # version = "2c"
  # community = "public"
  ## SNMPv3 (USM): the level follows from the passwords given unless set.
  # username = "estuary"
  # security_level = "authPriv"
  # auth_protocol = "SHA"
  # auth_password = "at-least-8-characters"
  # priv_protocol = "AES"
  # priv_password = "at-least-8-characters"
  # context_name = ""

  ## Every device on its own schedule, spread over the interval. A request waits timeout,
  ## then is sent again up to retries times; timeout × (retries + 1) must be shorter than
  ## the interval. A poll that cannot finish within its interval is ended and counted late.
  # interval = "60s"
  # timeout = "2s"
  # retries = 1

  ## GETBULK max-repetitions to start with (halved for devices that cannot take it).
  # max_repetitions = 10

  ## "collectd": interface_rx/interface_tx with type if_octets, if_packets, if_errors,
  ## if_dropped (the interface plugin's series). "telegraf": measurement interface with
  ## MIB object names as fields.
  # schema = "collectd"

  ## Per-second rates instead of raw counters (collectd schema), never across a reboot,
  ## a counter reset or an ifIndex change.
  # rates = false

  ## How often interface names, descriptions and speeds are walked again (also after a
  ## reboot, a change in the number of interfaces, or a new ifIndex).
  # index_refresh = "10m"

  ## Polls in flight at most (each holds a socket).
  # window = 500

  ## Credentials a target names as its third word.
  # [inputs.snmp.credentials.core-v3]
  #   version = "3"
  #   username = "estuary"
  #   auth_protocol = "SHA256"
  #   auth_password = "at-least-8-characters"
  #   priv_protocol = "AES"
  #   priv_password = "at-least-8-characters"

  ## A table to walk besides the interfaces: one point per row, tagged with its index.
  # [[inputs.snmp.table]]
  #   measurement = "hr_storage"
  #   index_tag = "index"
  #   tags = { descr = "1.3.6.1.2.1.25.2.3.1.3" }
  #   fields = { size = "1.3.6.1.2.1.25.2.3.1.5", used = "1.3.6.1.2.1.25.2.3.1.6" }

  ## Scalars read with GET: one point per poll.
  # [[inputs.snmp.scalar]]
  #   measurement = "ucd_load"
  #   fields = { load1 = "1.3.6.1.4.1.2021.10.1.5.1", load5 = "1.3.6.1.4.1.2021.10.1.5.2" }


###############################################################################
#                             OUTPUT PLUGINS                                  #
###############################################################################

# InfluxDB over HTTP(S): 1.x (/write) or 2.x and 3.x (/api/v2/write). Batches are
# gzipped, retried with backoff, and kept in the spool under data_dir while the server is
# down. Every output gets every point.
[[outputs.influxdb]]
  ## The output's name in logs, self-metrics and its spool directory. Default "influxdb"
  ## (then "influxdb-2", ...).
  # name = "influxdb"

  ## The server: http:// or https://, with an optional path behind a proxy.
  url = "http://127.0.0.1:8086"

  ## "v1": database, retention_policy, username and password.
  ## "v2": org, bucket and token (all three required).
  # api = "v1"

  ## v1: the database written to, created when missing if create_database is true. No
  ## retention_policy: the database's default one. username and password go together
  ## (none by default).
  database = "collectd"
  # retention_policy = "autogen"
  # create_database = true
  # username = "estuary"
  # password = "secret"

  ## v2 (no defaults).
  # org = "example-org"
  # bucket = "collectd"
  # token = "secret-token"

  ## Compress requests (Content-Encoding: gzip).
  # gzip = true

  ## A request carries at most batch_size lines and batch_bytes of line protocol; a batch
  ## that is not full is sent after flush_interval.
  # batch_size = 5000
  # batch_bytes = "4MiB"
  # flush_interval = "1s"

  ## One request, from connecting to the end of the response.
  # timeout = "10s"

  ## Failed writes are retried after retry_initial, doubling (with jitter) up to retry_max.
  # retry_initial = "500ms"
  # retry_max = "60s"

  ## The most line protocol this output holds in memory; beyond it the oldest batches
  ## are dropped and counted. With the spool on, batches go to disk long before that.
  # queue_size = "256MiB"

  ## The spool: what the server cannot take (down, 5xx, throttling) goes to segment
  ## files under <data_dir>/spool/<name>, and so does what is left at shutdown; it is
  ## sent, oldest first, when the server answers again, also after a restart.
  # spool = true
  ## The most the spool takes on disk (compressed); beyond it the oldest data is dropped
  ## and counted.
  # spool_size = "1GiB"
  ## Spooled data received longer ago than this is dropped and counted; "0s" keeps it.
  # spool_max_age = "72h"
  ## When spool writes are synced to disk: "batch" (every write) or "interval" (at most
  ## spool_fsync_interval later). A killed process loses nothing written either way; a
  ## power failure loses at most the interval.
  # spool_fsync = "interval"
  # spool_fsync_interval = "1s"
  ## Segment files are this large; at most half of spool_size.
  # spool_segment_size = "16MiB"
  ## A healthy output keeps up to this much in memory before it writes to the spool
  ## (default 16MiB, or half of queue_size when that is less).
  # spool_memory = "16MiB"

  ## https only: accept any certificate. For tests; never in production.
  # insecure_skip_verify = false

"""#
}
