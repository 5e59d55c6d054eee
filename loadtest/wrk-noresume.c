/* LD_PRELOAD shim for wrk in the TLS scenarios of loadtest/run.sh: never offer a saved TLS session.
 *
 * wrk keeps one SSL object per connection and, on reconnecting, calls SSL_shutdown and SSL_clear, which keep the
 * last session: the next SSL_connect offers it and, where the server allows it, resumes instead of doing a full
 * handshake. Servers differ in whether they allow resumption (nginx and HAProxy are configured not to; Portcullis
 * has no setting for it), so the client decides instead: before each handshake starts, drop the saved session.
 * Every connection then does a full handshake (key exchange and certificate signature) against every server.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
int SSL_set_session(SSL *ssl, SSL_SESSION *session);
int SSL_in_before(const SSL *ssl);

int SSL_connect(SSL *ssl) {
    static int (*real_connect)(SSL *) = NULL;
    if (real_connect == NULL) real_connect = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
    /* SSL_connect is called again while a non-blocking handshake is in progress: only clear before it starts. */
    if (SSL_in_before(ssl)) SSL_set_session(ssl, NULL);
    return real_connect(ssl);
}
