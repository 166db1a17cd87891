#ifndef MLDEPLOY_COPENSSL_SHIM_H
#define MLDEPLOY_COPENSSL_SHIM_H
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#endif
