// The system SQLite (Debian's libsqlite3-dev), used through a thin Swift wrapper in FlareMetadata.
#ifndef FLARE_CSQLITE_SHIM_H
#define FLARE_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
