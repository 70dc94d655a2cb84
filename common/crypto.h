/*
 * libcrypto, opened with dlopen the first time a command needs it, and
 * called through one table.
 *
 * Linked in, OpenSSL's libcrypto cost every start of pulpdist 3.7 ms of
 * CPU and 2.5 ms of wall (ld.so's relocations and page faults, measured
 * with an empty program linked with and without it), against 12 ms for
 * a whole no-op pull.  A no-op pull compares a version number and a raw
 * key, and needs none of it.
 *
 * Callers write pd_cr.F(...) where they wrote F(...).  OpenSSL's
 * function-like macros whose expansion starts with the function they
 * wrap (OPENSSL_free, BIO_get_mem_data, sk_X509_push...) work the same
 * way, as their underlying function is in the table.  Types, constants
 * and inline helpers still come from OpenSSL's headers.
 */
#ifndef PD_CRYPTO_H
#define PD_CRYPTO_H

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "err.h"

#define PD_CRYPTO_SONAME	"libcrypto.so.3"

/* Every libcrypto function pulpdist calls. */
#define PD_CRYPTO_FNS(X)						\
	X(ASN1_IA5STRING_free) X(ASN1_IA5STRING_new)			\
	X(ASN1_OCTET_STRING_free) X(ASN1_STRING_get0_data)		\
	X(ASN1_STRING_length) X(ASN1_STRING_set) X(ASN1_TIME_set)	\
	X(BIO_ctrl) X(BIO_free) X(BIO_new) X(BIO_new_mem_buf)		\
	X(BIO_s_mem) X(BN_bin2bn) X(BN_free) X(BN_to_ASN1_INTEGER)	\
	X(CRYPTO_free) X(CRYPTO_zalloc) X(ERR_clear_error)		\
	X(ERR_peek_last_error) X(ERR_reason_error_string)		\
	X(EVP_Digest) X(EVP_DigestFinal_ex) X(EVP_DigestInit_ex)	\
	X(EVP_DigestSign) X(EVP_DigestSignInit) X(EVP_DigestUpdate)	\
	X(EVP_DigestVerify) X(EVP_DigestVerifyInit) X(EVP_MD_CTX_free)	\
	X(EVP_MD_CTX_new) X(EVP_MD_fetch) X(EVP_MD_free)		\
	X(EVP_PKEY_Q_keygen) X(EVP_PKEY_free) X(EVP_PKEY_get_base_id)	\
	X(EVP_PKEY_get_raw_public_key) X(EVP_PKEY_new_raw_public_key)	\
	X(EVP_sha256) X(GENERAL_NAMES_free) X(GENERAL_NAME_free)	\
	X(GENERAL_NAME_new) X(GENERAL_NAME_set0_value) X(OBJ_nid2sn)	\
	X(OPENSSL_cleanse) X(OPENSSL_sk_free)		\
	X(OPENSSL_sk_new_null) X(OPENSSL_sk_num) X(OPENSSL_sk_pop_free)	\
	X(OPENSSL_sk_push) X(OPENSSL_sk_shift) X(OPENSSL_sk_value)	\
	X(PEM_read_bio_PUBKEY) X(PEM_read_bio_PrivateKey)		\
	X(PEM_read_bio_X509) X(PEM_write_bio_PUBKEY)			\
	X(PEM_write_bio_PrivateKey) X(PEM_write_bio_X509) X(RAND_bytes)	\
	X(X509_EXTENSION_free) X(X509_NAME_ENTRY_get_data)		\
	X(X509_NAME_add_entry_by_txt) X(X509_NAME_dup)			\
	X(X509_NAME_free) X(X509_NAME_get_entry)			\
	X(X509_NAME_get_index_by_NID) X(X509_NAME_new)			\
	X(X509_STORE_CTX_free) X(X509_STORE_CTX_get_error)		\
	X(X509_STORE_CTX_init) X(X509_STORE_CTX_new)			\
	X(X509_STORE_CTX_set_purpose) X(X509_STORE_add_cert)		\
	X(X509_STORE_free) X(X509_STORE_new) X(X509_add1_ext_i2d)	\
	X(X509_add_ext) X(X509_check_ca) X(X509_check_private_key)	\
	X(X509_free) X(X509_get_serialNumber) X(X509_get_subject_name)	\
	X(X509_getm_notAfter) X(X509_getm_notBefore) X(X509_new)	\
	X(X509_set_issuer_name) X(X509_set_pubkey)			\
	X(X509_set_subject_name) X(X509_set_version) X(X509_sign)	\
	X(X509V3_EXT_conf_nid) X(X509V3_set_ctx) X(X509_verify_cert)	\
	X(X509_verify_cert_error_string) X(a2i_IPADDRESS)

/* A field of F's own type, so each call is checked as F's would be. */
#define PD_CRYPTO_FIELD(f)	__typeof__(f) *f;

struct pd_crypto {
	PD_CRYPTO_FNS(PD_CRYPTO_FIELD)
};

/*
 * The table.  Its fields are NULL until pd_crypto_load has succeeded in
 * the process: a module's entry points load it before their first call.
 */
extern struct pd_crypto pd_cr;

/* sk_X509_value and sk_X509_shift, whose macros cast what they call. */
static inline X509 *
pd_sk_X509_value(const STACK_OF(X509) *sk, int i)
{
	return (X509 *)pd_cr.OPENSSL_sk_value(
	    ossl_check_const_X509_sk_type(sk), i);
}

static inline X509 *
pd_sk_X509_shift(STACK_OF(X509) *sk)
{
	return (X509 *)pd_cr.OPENSSL_sk_shift(ossl_check_X509_sk_type(sk));
}

/*
 * Open libcrypto and fill pd_cr, the first time in the process, whichever
 * thread asks; the same answer after.  Errors (PD_ERR_IO) name the
 * library and its Debian package, or the missing function.
 */
enum pd_err pd_crypto_load(struct pd_error *) PD_WARN_UNUSED;

#endif
