// Shim for the system OpenSSL 3: includes plus `static inline` wrappers for the macros Swift cannot import.
// Each wrapper is named CPortcullisOpenSSL_<original>.
#ifndef C_PORTCULLIS_OPENSSL_SHIM_H
#define C_PORTCULLIS_OPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>

static inline long CPortcullisOpenSSL_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline long CPortcullisOpenSSL_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long CPortcullisOpenSSL_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_max_proto_version(ctx, version);
}
static inline long CPortcullisOpenSSL_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}
static inline long CPortcullisOpenSSL_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline long CPortcullisOpenSSL_SSL_CTX_set_tlsext_servername_callback(
    SSL_CTX *ctx, int (*cb)(SSL *, int *, void *)) {
    return SSL_CTX_set_tlsext_servername_callback(ctx, cb);
}
static inline long CPortcullisOpenSSL_SSL_CTX_set_tlsext_servername_arg(SSL_CTX *ctx, void *arg) {
    return SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}
static inline long CPortcullisOpenSSL_BIO_get_mem_ptr(BIO *bio, BUF_MEM **out) {
    return BIO_get_mem_ptr(bio, out);
}
static inline long CPortcullisOpenSSL_BIO_set_mem_eof_return(BIO *bio, int value) {
    return BIO_set_mem_eof_return(bio, value);
}
static inline void CPortcullisOpenSSL_OPENSSL_free(void *p) { OPENSSL_free(p); }
static inline int CPortcullisOpenSSL_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *CPortcullisOpenSSL_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
static inline uint64_t CPortcullisOpenSSL_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t CPortcullisOpenSSL_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline uint64_t CPortcullisOpenSSL_SSL_OP_CIPHER_SERVER_PREFERENCE(void) {
    return SSL_OP_CIPHER_SERVER_PREFERENCE;
}
static inline long CPortcullisOpenSSL_SSL_set_min_proto_version(SSL *ssl, int version) {
    return SSL_set_min_proto_version(ssl, version);
}
static inline long CPortcullisOpenSSL_SSL_set_max_proto_version(SSL *ssl, int version) {
    return SSL_set_max_proto_version(ssl, version);
}
static inline long CPortcullisOpenSSL_SSL_CTX_add0_chain_cert(SSL_CTX *ctx, X509 *x509) {
    return SSL_CTX_add0_chain_cert(ctx, x509);
}
static inline int CPortcullisOpenSSL_SSL_get_ex_new_index(void) {
    return SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}
static inline int CPortcullisOpenSSL_sk_GENERAL_NAME_num(const GENERAL_NAMES *names) {
    return sk_GENERAL_NAME_num(names);
}
static inline GENERAL_NAME *CPortcullisOpenSSL_sk_GENERAL_NAME_value(const GENERAL_NAMES *names, int i) {
    return sk_GENERAL_NAME_value(names, i);
}
static inline const char *CPortcullisOpenSSL_version_text(void) { return OPENSSL_VERSION_TEXT; }

static inline unsigned long CPortcullisOpenSSL_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }

#endif
