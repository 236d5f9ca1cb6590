// OpenSSL's TLS over memory BIOs, for FlareTLS. The helpers spell out macros Swift cannot
// import (they expand to SSL_CTX_ctrl / BIO_ctrl calls).
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>

static inline long flare_ssl_ctx_set_min_tls12(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

static inline long flare_ssl_ctx_set_mode_release_buffers(SSL_CTX *ctx) {
    return SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

static inline int flare_bio_set_mem_eof_retry(BIO *bio) {
    return (int)BIO_set_mem_eof_return(bio, -1);
}

static inline void flare_ssl_ctx_no_renegotiation(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
}
