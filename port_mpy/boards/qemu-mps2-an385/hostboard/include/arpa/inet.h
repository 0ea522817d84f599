// newlib has no arpa/inet.h; axTLS's AES (cryptolib) includes it for the byte-order helpers only.
#ifndef LOSTCARD_ARPA_INET_H
#define LOSTCARD_ARPA_INET_H
#include <stdint.h>
#define htonl(x) __builtin_bswap32((uint32_t)(x))
#define ntohl(x) __builtin_bswap32((uint32_t)(x))
#define htons(x) __builtin_bswap16((uint16_t)(x))
#define ntohs(x) __builtin_bswap16((uint16_t)(x))
#endif
