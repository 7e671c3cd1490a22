//! Key pairs of the unit tests (from mercure-hub/tests/keys): public, never
//! use them for anything else.

pub(crate) const EC256_PRIVATE: &[u8] = b"\
-----BEGIN PRIVATE KEY-----\n\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgabFgWfpPz9s6mKc+\n\
NaJUh7S+cplAuH46lJ7bpXXftuyhRANCAARFmw41VQHYYxd/Fw+2/rn9Q9tyX4hR\n\
W0FjihrKvkMfh5XkJO44o978l+TaHJHCt/FJhuZ3sluNU0rjFaD7iE9o\n\
-----END PRIVATE KEY-----\n";

pub(crate) const EC256_PUBLIC: &[u8] = b"\
-----BEGIN PUBLIC KEY-----\n\
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERZsONVUB2GMXfxcPtv65/UPbcl+I\n\
UVtBY4oayr5DH4eV5CTuOKPe/Jfk2hyRwrfxSYbmd7JbjVNK4xWg+4hPaA==\n\
-----END PUBLIC KEY-----\n";

pub(crate) const ED25519_PRIVATE: &[u8] = b"\
-----BEGIN PRIVATE KEY-----\n\
MC4CAQAwBQYDK2VwBCIEINitBOfCtM0XMvyo1nXBNUZf5NxM5rDN2WqTxY+gy66t\n\
-----END PRIVATE KEY-----\n";

pub(crate) const ED25519_PUBLIC: &[u8] = b"\
-----BEGIN PUBLIC KEY-----\n\
MCowBQYDK2VwAyEAZqIpVLcf0giEL31ZVRNMNyuMwm0eUewuh7yPjA7S0KI=\n\
-----END PUBLIC KEY-----\n";
