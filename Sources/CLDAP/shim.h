// OpenLDAP's client library (Debian: libldap-dev), for the server's LDAP sign-in.
#include <ldap.h>

// LDAP_SASL_SIMPLE is a pointer macro Swift cannot import: a simple bind's mechanism.
static inline const char *cldap_simple_mechanism(void) { return LDAP_SASL_SIMPLE; }
