#ifndef ESTUARY_CNETSNMP_SHIM_H
#define ESTUARY_CNETSNMP_SHIM_H
/* The libc headers must come before net-snmp-config.h: it defines _GNU_SOURCE, which
   renames a member of fd_set and then clashes with SwiftGlibc's view of it. */
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <netinet/in.h>
#include <stdio.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

/* PDU type macros expand to expressions Swift does not import. */
static const int estuary_SNMP_MSG_GET = SNMP_MSG_GET;
static const int estuary_SNMP_MSG_GETNEXT = SNMP_MSG_GETNEXT;
static const int estuary_SNMP_MSG_GETBULK = SNMP_MSG_GETBULK;
#endif
