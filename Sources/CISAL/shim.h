// Intel ISA-L's CRC32C (crc32_iscsi), from Debian's libisal-dev.
#ifndef FLARE_CISAL_SHIM_H
#define FLARE_CISAL_SHIM_H
#include <isa-l/crc.h>
#endif
