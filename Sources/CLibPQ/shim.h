#ifndef ROLLBACK_CLIBPQ_SHIM_H
#define ROLLBACK_CLIBPQ_SHIM_H

// libpq's client API. The include path (/usr/include/postgresql on Debian)
// comes from `pkg-config --cflags libpq`, which SwiftPM reads for this target.

#include <libpq-fe.h>

// Error field codes for PQresultErrorField. libpq defines them (in postgres_ext.h) as
// character literals, which Swift does not import; these typed copies are the same values.
static const int rollback_pg_diag_sqlstate = PG_DIAG_SQLSTATE;
static const int rollback_pg_diag_message_primary = PG_DIAG_MESSAGE_PRIMARY;
static const int rollback_pg_diag_message_detail = PG_DIAG_MESSAGE_DETAIL;
static const int rollback_pg_diag_message_hint = PG_DIAG_MESSAGE_HINT;

#endif
