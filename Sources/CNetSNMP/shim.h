#ifndef ESTUARY_CNETSNMP_SHIM_H
#define ESTUARY_CNETSNMP_SHIM_H
/* The libc headers must come before net-snmp-config.h: it defines _GNU_SOURCE, which
   renames a member of fd_set and then clashes with SwiftGlibc's view of it. */
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <netinet/in.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>

/* What Swift cannot import from libnetsnmp: macros that expand to expressions, C globals
   (Swift 6 refuses to read them), and the session set-up that needs the library's own
   structures. Everything here runs on the poller's one libnetsnmp thread. */

/* PDU type macros expand to expressions Swift does not import. */
static const int estuary_SNMP_MSG_GET = SNMP_MSG_GET;
static const int estuary_SNMP_MSG_GETNEXT = SNMP_MSG_GETNEXT;
static const int estuary_SNMP_MSG_GETBULK = SNMP_MSG_GETBULK;
static const int estuary_SNMP_MSG_RESPONSE = SNMP_MSG_RESPONSE;
static const int estuary_SNMP_MSG_REPORT = SNMP_MSG_REPORT;

/* Authentication and privacy protocols, as Estuary numbers them. */
enum {
    ESTUARY_AUTH_NONE = 0, ESTUARY_AUTH_MD5 = 1, ESTUARY_AUTH_SHA = 2, ESTUARY_AUTH_SHA224 = 3,
    ESTUARY_AUTH_SHA256 = 4, ESTUARY_AUTH_SHA384 = 5, ESTUARY_AUTH_SHA512 = 6
};
enum { ESTUARY_PRIV_NONE = 0, ESTUARY_PRIV_DES = 1, ESTUARY_PRIV_AES = 2, ESTUARY_PRIV_AES192 = 3, ESTUARY_PRIV_AES256 = 4 };

static inline oid *estuary_snmp_auth_oid(int proto, size_t *length) {
    switch (proto) {
    case ESTUARY_AUTH_MD5: *length = OID_LENGTH(usmHMACMD5AuthProtocol); return usmHMACMD5AuthProtocol;
    case ESTUARY_AUTH_SHA: *length = OID_LENGTH(usmHMACSHA1AuthProtocol); return usmHMACSHA1AuthProtocol;
    case ESTUARY_AUTH_SHA224: *length = OID_LENGTH(usmHMAC128SHA224AuthProtocol); return usmHMAC128SHA224AuthProtocol;
    case ESTUARY_AUTH_SHA256: *length = OID_LENGTH(usmHMAC192SHA256AuthProtocol); return usmHMAC192SHA256AuthProtocol;
    case ESTUARY_AUTH_SHA384: *length = OID_LENGTH(usmHMAC256SHA384AuthProtocol); return usmHMAC256SHA384AuthProtocol;
    case ESTUARY_AUTH_SHA512: *length = OID_LENGTH(usmHMAC384SHA512AuthProtocol); return usmHMAC384SHA512AuthProtocol;
    default: *length = 0; return NULL;
    }
}

static inline oid *estuary_snmp_priv_oid(int proto, size_t *length) {
    switch (proto) {
    case ESTUARY_PRIV_DES: *length = OID_LENGTH(usmDESPrivProtocol); return usmDESPrivProtocol;
    case ESTUARY_PRIV_AES: *length = OID_LENGTH(usmAESPrivProtocol); return usmAESPrivProtocol;
    case ESTUARY_PRIV_AES192: *length = OID_LENGTH(usmAES192PrivProtocol); return usmAES192PrivProtocol;
    case ESTUARY_PRIV_AES256: *length = OID_LENGTH(usmAES256PrivProtocol); return usmAES256PrivProtocol;
    default: *length = 0; return NULL;
    }
}

/* One-time library set-up: no MIB loading, no configuration files, no persistent state
   under /var/lib/snmp, no logging of its own (Estuary reports every failure itself). */
static inline void estuary_snmp_initialize(const char *application) {
    setenv("MIBS", "", 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    snmp_disable_log();
    init_snmp(application);
}

/* A password turned into a key (Ku) with the authentication protocol's hash; 0 on success. */
static inline int estuary_snmp_password_key(int auth_proto, const unsigned char *password, size_t password_length,
                                            unsigned char *key, size_t *key_length) {
    size_t length = 0;
    oid *hash = estuary_snmp_auth_oid(auth_proto, &length);
    if (hash == NULL) return -1;
    return generate_Ku(hash, (u_int)length, password, password_length, key, key_length) == SNMPERR_SUCCESS ? 0 : -1;
}

/* What a session is opened with. Strings are copied by snmp_sess_open. */
typedef struct {
    const char *peername;                 /* "udp:127.0.0.1:161", "udp6:[::1]:161" */
    long version;                         /* SNMP_VERSION_1, _2c, _3 */
    const unsigned char *community;
    size_t community_length;
    int retries;
    long timeout_us;
    /* SNMPv3 (USM) */
    const char *security_name;
    int security_level;                   /* SNMP_SEC_LEVEL_* */
    int auth_proto;                       /* ESTUARY_AUTH_* */
    const unsigned char *auth_key;        /* Ku */
    size_t auth_key_length;
    int priv_proto;                       /* ESTUARY_PRIV_* */
    const unsigned char *priv_key;        /* Ku, made with the authentication hash */
    size_t priv_key_length;
    const unsigned char *engine_id;       /* the agent's engine ID when known (no discovery) */
    size_t engine_id_length;
    const char *context_name;
} estuary_snmp_session_parameters;

/* Opens a single-API session (no engine-ID probing: Estuary discovers asynchronously).
   Returns NULL on failure and writes the library's reason into `error`. */
static inline void *estuary_snmp_open(const estuary_snmp_session_parameters *p, netsnmp_callback callback,
                                      void *magic, char *error, size_t error_size) {
    netsnmp_session session;
    snmp_sess_init(&session);
    session.peername = (char *)p->peername;
    session.version = p->version;
    session.retries = p->retries;
    session.timeout = p->timeout_us;
    session.callback = callback;
    session.callback_magic = magic;
    if (p->version == SNMP_VERSION_3) {
        session.securityModel = SNMP_SEC_MODEL_USM;
        session.securityName = (char *)p->security_name;
        session.securityNameLen = p->security_name ? strlen(p->security_name) : 0;
        session.securityLevel = p->security_level;
        session.flags |= SNMP_FLAGS_DONT_PROBE;
        if (p->auth_proto != ESTUARY_AUTH_NONE) {
            session.securityAuthProto = estuary_snmp_auth_oid(p->auth_proto, &session.securityAuthProtoLen);
            if (p->auth_key_length > sizeof(session.securityAuthKey)) return NULL;
            memcpy(session.securityAuthKey, p->auth_key, p->auth_key_length);
            session.securityAuthKeyLen = p->auth_key_length;
        }
        if (p->priv_proto != ESTUARY_PRIV_NONE) {
            session.securityPrivProto = estuary_snmp_priv_oid(p->priv_proto, &session.securityPrivProtoLen);
            if (p->priv_key_length > sizeof(session.securityPrivKey)) return NULL;
            memcpy(session.securityPrivKey, p->priv_key, p->priv_key_length);
            session.securityPrivKeyLen = p->priv_key_length;
        }
        if (p->engine_id != NULL && p->engine_id_length > 0) {
            session.securityEngineID = (u_char *)p->engine_id;
            session.securityEngineIDLen = p->engine_id_length;
        }
        if (p->context_name != NULL) {
            session.contextName = (char *)p->context_name;
            session.contextNameLen = strlen(p->context_name);
        }
    } else {
        session.community = (u_char *)p->community;
        session.community_len = p->community_length;
    }
    void *handle = snmp_sess_open(&session);
    if (handle != NULL) {
        /* libnetsnmp opens its sockets without close-on-exec; Estuary's are all close-on-exec. */
        struct netsnmp_transport_s *transport = snmp_sess_transport(handle);
        if (transport != NULL && transport->sock >= 0) fcntl(transport->sock, F_SETFD, FD_CLOEXEC);
    }
    if (handle != NULL && p->version == SNMP_VERSION_3) {
        /* snmp_sess_open clears the flag after its (skipped) probe; without it the first
           send would probe synchronously and block the poller's thread. */
        netsnmp_session *opened = snmp_sess_session(handle);
        if (opened != NULL) opened->flags |= SNMP_FLAGS_DONT_PROBE;
    }
    if (handle == NULL && error != NULL && error_size > 0) {
        int clib = 0, snmp = 0;
        char *text = NULL;
        snmp_error(&session, &clib, &snmp, &text);
        snprintf(error, error_size, "%s", text ? text : "cannot open the session");
        free(text);
    }
    return handle;
}

/* The session's UDP socket, or -1. */
static inline int estuary_snmp_socket(void *handle) {
    struct netsnmp_transport_s *transport = snmp_sess_transport(handle);
    return transport ? transport->sock : -1;
}

/* Builds and sends a request for `count` OIDs laid out one after another in `oids`
   (lengths in `lengths`). GETBULK takes non-repeaters and max-repetitions. Returns the
   request id, or 0 when nothing was sent (the PDU is freed; `error` says why). */
static inline long estuary_snmp_send(void *handle, int command, const oid *oids, const size_t *lengths, int count,
                                     long non_repeaters, long max_repetitions, char *error, size_t error_size) {
    netsnmp_pdu *pdu = snmp_pdu_create(command);
    if (pdu == NULL) return 0;
    if (command == SNMP_MSG_GETBULK) {
        pdu->non_repeaters = non_repeaters;
        pdu->max_repetitions = max_repetitions;
    }
    const oid *cursor = oids;
    for (int i = 0; i < count; i++) {
        snmp_add_null_var(pdu, cursor, lengths[i]);
        cursor += lengths[i];
    }
    long reqid = snmp_sess_async_send(handle, pdu, NULL, NULL);
    if (reqid == 0) {
        if (error != NULL && error_size > 0) {
            int clib = 0, snmp = 0;
            char *text = NULL;
            snmp_sess_error(handle, &clib, &snmp, &text);
            snprintf(error, error_size, "%s", text ? text : "send failed");
            free(text);
        }
        snmp_free_pdu(pdu);
    }
    return reqid;
}

/* Sends the SNMPv3 discovery request (an empty, unauthenticated GET): the agent answers
   with a report that carries its engine ID, which the library then keeps in the session. */
static inline long estuary_snmp_send_discovery(void *handle) {
    netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
    if (pdu == NULL) return 0;
    pdu->version = SNMP_VERSION_3;
    pdu->securityName = strdup("");
    pdu->securityNameLen = 0;
    pdu->securityLevel = SNMP_SEC_LEVEL_NOAUTH;
    pdu->securityModel = SNMP_SEC_MODEL_USM;
    long reqid = snmp_sess_async_send(handle, pdu, NULL, NULL);
    if (reqid == 0) snmp_free_pdu(pdu);
    return reqid;
}

/* After discovery: makes the USM user (keys localized to the engine ID the session learnt),
   which libnetsnmp would do only in its own synchronous probe. 0 on success. */
static inline int estuary_snmp_discovered(void *handle) {
    netsnmp_session *session = snmp_sess_session(handle);
    if (session == NULL || session->securityEngineIDLen == 0) return -1;
    return usm_create_user_from_session(session) == SNMPERR_SUCCESS ? 0 : -1;
}

/* The engine ID the session has learnt (0 bytes when none yet); copies at most `size`. */
static inline size_t estuary_snmp_engine_id(void *handle, unsigned char *buffer, size_t size) {
    netsnmp_session *session = snmp_sess_session(handle);
    if (session == NULL || session->securityEngineIDLen == 0) return 0;
    size_t length = session->securityEngineIDLen < size ? session->securityEngineIDLen : size;
    memcpy(buffer, session->securityEngineID, length);
    return length;
}

/* Reads what is waiting on the session's socket (and calls the callback). */
static inline int estuary_snmp_read(void *handle, int socket, netsnmp_large_fd_set *set) {
    netsnmp_large_fd_setfd(socket, set);
    int result = snmp_sess_read2(handle, set);
    netsnmp_large_fd_clr(socket, set);
    return result;
}

/* Microseconds until the session's next retransmission or timeout; -1 when it has no
   request outstanding. */
static inline long estuary_snmp_next_timeout_us(void *handle, netsnmp_large_fd_set *set) {
    int fds = 0, block = 1;
    struct timeval tv = { 0, 0 };
    snmp_sess_select_info2_flags(handle, &fds, set, &tv, &block, NETSNMP_SELECT_NOALARMS);
    int socket = estuary_snmp_socket(handle);
    if (socket >= 0) netsnmp_large_fd_clr(socket, set);
    if (block) return -1;
    return (long)tv.tv_sec * 1000000L + (long)tv.tv_usec;
}

static inline netsnmp_large_fd_set *estuary_snmp_fd_set_create(int size) {
    netsnmp_large_fd_set *set = calloc(1, sizeof(netsnmp_large_fd_set));
    if (set != NULL) netsnmp_large_fd_set_init(set, size);
    return set;
}

static inline void estuary_snmp_fd_set_destroy(netsnmp_large_fd_set *set) {
    if (set == NULL) return;
    netsnmp_large_fd_set_cleanup(set);
    free(set);
}

/* The PDU's error status and index (for GETBULK requests these fields hold non-repeaters
   and max-repetitions, hence the accessors). */
static inline long estuary_pdu_error_status(const netsnmp_pdu *pdu) { return pdu->errstat; }
static inline long estuary_pdu_error_index(const netsnmp_pdu *pdu) { return pdu->errindex; }

/* The library's message for an error code (SNMPERR_*). */
static inline const char *estuary_snmp_error_text(int code) { return snmp_api_errstring(code); }
#endif
