// c-resolver: resolves a host name with getaddrinfo (glibc's NSS: /etc/nsswitch.conf, /etc/hosts)
// and reads the CA bundle, so a minimal root must carry both. It prints what it found, one fact a
// line, sorted, so the output on the host and in the minimal root can be compared byte for byte.
//   resolver [HOST [CA_BUNDLE]]   (defaults: localhost, /etc/ssl/certs/ca-certificates.crt)
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int cmp(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

int main(int argc, char** argv) {
  const char* host = argc > 1 ? argv[1] : "localhost";
  const char* bundle = argc > 2 ? argv[2] : "/etc/ssl/certs/ca-certificates.crt";

  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo* res = NULL;
  int rc = getaddrinfo(host, "443", &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "resolver: getaddrinfo `%s`: %s\n", host, gai_strerror(rc));
    return 1;
  }
  char* addrs[64];
  size_t n = 0;
  for (struct addrinfo* ai = res; ai && n < 64; ai = ai->ai_next) {
    char buf[INET6_ADDRSTRLEN];
    const void* a = ai->ai_family == AF_INET ? (const void*)&((struct sockaddr_in*)ai->ai_addr)->sin_addr
                                             : (const void*)&((struct sockaddr_in6*)ai->ai_addr)->sin6_addr;
    if (inet_ntop(ai->ai_family, a, buf, sizeof buf)) addrs[n++] = strdup(buf);
  }
  freeaddrinfo(res);
  qsort(addrs, n, sizeof addrs[0], cmp);
  for (size_t i = 0; i < n; ++i)
    if (i == 0 || strcmp(addrs[i], addrs[i - 1]) != 0) printf("%s has address %s\n", host, addrs[i]);

  FILE* f = fopen(bundle, "r");
  if (!f) {
    perror(bundle);
    return 1;
  }
  char line[4096];
  long certs = 0, bytes = 0;
  while (fgets(line, sizeof line, f)) {
    bytes += (long)strlen(line);
    if (strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0) ++certs;
  }
  fclose(f);
  printf("%s: %ld certificates, %ld bytes\n", bundle, certs, bytes);
  return certs > 0 ? 0 : 1;
}
