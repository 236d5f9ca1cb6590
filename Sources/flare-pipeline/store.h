// `flare-pipeline store --port P --dir D`.
#ifndef FLARE_PIPELINE_STORE_H
#define FLARE_PIPELINE_STORE_H

#include <stdint.h>

/// Serves chunks from `directory` on 127.0.0.1:`port` until SIGINT/SIGTERM; the exit status.
int store_main(uint16_t port, const char *directory);

#endif
