/*
 * Ed25519 keys and signatures (protocol/sign.h).
 */
#include <sys/stat.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../common/mem.h"
#include "../../protocol/sign.h"
#include "unit.h"

static void
test_sign_verify(void)
{
	struct pr_key *k = NULL, *other = NULL;
	unsigned char sig[PR_SIG_LEN];
	const char msg[] = "the message";

	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&k, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&other, NULL), PD_OK);
	CU_ASSERT_TRUE(pr_key_has_private(k));
	CU_ASSERT_EQUAL(pr_sign(k, msg, sizeof(msg), sig, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_verify(k, msg, sizeof(msg), sig, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_verify(other, msg, sizeof(msg), sig, NULL),
	    PD_ERR_SIGNATURE);
	CU_ASSERT_EQUAL(pr_verify(k, msg, sizeof(msg) - 1, sig, NULL),
	    PD_ERR_SIGNATURE);
	sig[10] ^= 1;
	CU_ASSERT_EQUAL(pr_verify(k, msg, sizeof(msg), sig, NULL),
	    PD_ERR_SIGNATURE);
	pr_key_free(k);
	pr_key_free(other);
}

static void
test_files(void)
{
	char *dir = unit_tmpdir(), priv[512], pub[512];
	struct pr_key *k = NULL, *kp = NULL, *kq = NULL, *raw = NULL;
	unsigned char id1[PR_KEYID_LEN], id2[PR_KEYID_LEN];
	unsigned char p1[PR_PUBKEY_LEN], p2[PR_PUBKEY_LEN];
	unsigned char sig[PR_SIG_LEN];
	struct pd_error err;
	struct stat st;

	snprintf(priv, sizeof(priv), "%s/t.key", dir);
	snprintf(pub, sizeof(pub), "%s/t.pub", dir);
	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&k, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_key_write_private(k, priv, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_key_write_public(k, pub, NULL), PD_OK);
	CU_ASSERT_EQUAL(stat(priv, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(stat(pub, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0644);
	/* Never overwritten. */
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pr_key_write_private(k, priv, &err), PD_ERR_EXISTS);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "t.key"));

	CU_ASSERT_EQUAL_FATAL(pr_key_load(priv, &kp, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pr_key_load(pub, &kq, NULL), PD_OK);
	CU_ASSERT_TRUE(pr_key_has_private(kp));
	CU_ASSERT_FALSE(pr_key_has_private(kq));
	CU_ASSERT_EQUAL(pr_key_id(k, id1, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_key_id(kq, id2, NULL), PD_OK);
	CU_ASSERT_EQUAL(memcmp(id1, id2, sizeof(id1)), 0);
	pr_key_public(kp, p1);
	pr_key_public(kq, p2);
	CU_ASSERT_EQUAL(memcmp(p1, p2, sizeof(p1)), 0);
	CU_ASSERT_EQUAL_FATAL(pr_key_from_public(p1, &raw, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_sign(kp, "x", 1, sig, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_verify(raw, "x", 1, sig, NULL), PD_OK);
	/* A public key cannot sign. */
	CU_ASSERT_EQUAL(pr_sign(kq, "x", 1, sig, NULL), PD_ERR_USAGE);

	pr_key_free(k);
	pr_key_free(kp);
	pr_key_free(kq);
	pr_key_free(raw);
	unit_rmdir(dir);
}

static void
test_bad_files(void)
{
	char *dir = unit_tmpdir(), path[512];
	struct pr_key *k = NULL;
	struct pd_error err;
	static const char rsa_junk[] = "-----BEGIN PUBLIC KEY-----\n"
	    "AAAA\n-----END PUBLIC KEY-----\n";

	snprintf(path, sizeof(path), "%s/missing.key", dir);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pr_key_load(path, &k, &err), PD_ERR_NOTFOUND);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "missing.key"));

	unit_write(dir, "empty.key", "", 0);
	snprintf(path, sizeof(path), "%s/empty.key", dir);
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pr_key_load(path, &k, &err), PD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "empty.key"));

	unit_write(dir, "junk.pub", rsa_junk, sizeof(rsa_junk) - 1);
	snprintf(path, sizeof(path), "%s/junk.pub", dir);
	pd_error_clear(&err);
	CU_ASSERT_NOT_EQUAL(pr_key_load(path, &k, &err), PD_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "junk.pub"));
	CU_ASSERT_PTR_NULL(k);
	unit_rmdir(dir);
}

/* Reads back the file at path into buf; its length, or -1. */
static long
slurp(const char *path, char *buf, size_t cap)
{
	FILE *f;
	size_t n;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, cap, f);
	fclose(f);
	return (long)n;
}

/* Load dir/name holding text; the key, or NULL with err set. */
static struct pr_key *
load_text(const char *dir, const char *name, const char *text,
    struct pd_error *err)
{
	char path[512];
	struct pr_key *k = NULL;

	unit_write(dir, name, text, strlen(text));
	unit_pjoin(path, sizeof(path), dir, name);
	pd_error_clear(err);
	if (pr_key_load(path, &k, err) != PD_OK)
		CU_ASSERT_PTR_NULL(k);
	return k;
}

/* k and the other key have the same raw public key and id. */
static void
assert_same_key(const struct pr_key *k, const struct pr_key *other)
{
	unsigned char p1[PR_PUBKEY_LEN], p2[PR_PUBKEY_LEN];
	unsigned char id1[PR_KEYID_LEN], id2[PR_KEYID_LEN];

	pr_key_public(k, p1);
	pr_key_public(other, p2);
	CU_ASSERT_EQUAL(memcmp(p1, p2, sizeof(p1)), 0);
	CU_ASSERT_EQUAL_FATAL(pr_key_id(k, id1, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pr_key_id(other, id2, NULL), PD_OK);
	CU_ASSERT_EQUAL(memcmp(id1, id2, sizeof(id1)), 0);
}

/*
 * A public key file as OpenSSL writes it is read without OpenSSL; what
 * is made later must be what OpenSSL would have made.
 */
static void
test_public_fast(void)
{
	char *dir = unit_tmpdir(), pub[512], again[512], text[256];
	char text2[512], *crlf;
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *d;
	struct pr_key *k = NULL, *kq = NULL, *kc = NULL;
	unsigned char sig[PR_SIG_LEN];
	const char msg[] = "the message";
	struct pd_error err;
	long n;
	size_t i, j;

	unit_pjoin(pub, sizeof(pub), dir, "t.pub");
	unit_pjoin(again, sizeof(again), dir, "again.pub");
	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&k, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pr_key_write_public(k, pub, NULL), PD_OK);
	/* The shape the fast reader takes, so this test exercises it. */
	n = slurp(pub, text, sizeof(text) - 1);
	CU_ASSERT_EQUAL_FATAL(n, 113);
	text[n] = '\0';
	CU_ASSERT_EQUAL(strncmp(text, "-----BEGIN PUBLIC KEY-----\n"
	    "MCowBQYDK2VwAyEA", 43), 0);

	CU_ASSERT_EQUAL_FATAL(pr_key_load(pub, &kq, NULL), PD_OK);
	CU_ASSERT_FALSE(pr_key_has_private(kq));
	assert_same_key(k, kq);
	CU_ASSERT_EQUAL(pr_sign(k, msg, sizeof(msg), sig, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_verify(kq, msg, sizeof(msg), sig, NULL), PD_OK);
	CU_ASSERT_EQUAL(pr_verify(kq, msg, sizeof(msg) - 1, sig, NULL),
	    PD_ERR_SIGNATURE);
	sig[PR_SIG_LEN - 1] ^= 0x40;
	pd_error_clear(&err);
	CU_ASSERT_EQUAL(pr_verify(kq, msg, sizeof(msg), sig, &err),
	    PD_ERR_SIGNATURE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "does not match"));
	CU_ASSERT_EQUAL(pr_sign(kq, "x", 1, sig, NULL), PD_ERR_USAGE);
	/* Written back, byte for byte what OpenSSL wrote. */
	CU_ASSERT_EQUAL(pr_key_write_public(kq, again, NULL), PD_OK);
	CU_ASSERT_EQUAL(slurp(again, text2, sizeof(text2)), n);
	CU_ASSERT_EQUAL(memcmp(text, text2, (size_t)n), 0);
	pr_key_free(kq);

	/* Shapes only OpenSSL reads: a line before, CRLF; the same key. */
	snprintf(text2, sizeof(text2), "a comment\n%s", text);
	kq = load_text(dir, "comment.pub", text2, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(kq);
	assert_same_key(k, kq);
	for (i = j = 0; text[i] != '\0' && j + 2 < sizeof(text2); i++) {
		if (text[i] == '\n')
			text2[j++] = '\r';
		text2[j++] = text[i];
	}
	text2[j] = '\0';
	CU_ASSERT_PTR_NOT_NULL((crlf = strstr(text2, "\r\n")));
	kc = load_text(dir, "crlf.pub", text2, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(kc);
	assert_same_key(k, kc);

	/* A last digit whose unused bits are not zero: OpenSSL ignores
	 * them, the fast reader leaves the file to it, the same key. */
	memcpy(text2, text, (size_t)n + 1);
	CU_ASSERT_EQUAL_FATAL(text2[86], '=');
	CU_ASSERT_PTR_NOT_NULL_FATAL((d = strchr(b64, text2[85])));
	text2[85] = b64[(d - b64) ^ 1];
	pr_key_free(kq);
	kq = load_text(dir, "bits.pub", text2, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(kq);
	assert_same_key(k, kq);

	/* Keys of every byte value the decoder meets. */
	for (i = 0; i < 64; i++) {
		pr_key_free(kc);
		pr_key_free(k);
		kc = k = NULL;
		unlink(again);
		CU_ASSERT_EQUAL_FATAL(pr_key_generate(&k, NULL), PD_OK);
		CU_ASSERT_EQUAL_FATAL(pr_key_write_public(k, again, NULL),
		    PD_OK);
		CU_ASSERT_EQUAL_FATAL(pr_key_load(again, &kc, NULL), PD_OK);
		assert_same_key(k, kc);
	}

	pr_key_free(k);
	pr_key_free(kq);
	pr_key_free(kc);
	unit_rmdir(dir);
}

/*
 * Public key files of another shape than the fast reader's fail as they
 * did when OpenSSL read every file.
 */
static void
test_public_other(void)
{
	static const struct {
		const char	*name;
		const char	*body;
		enum pd_err	 code;	/* as OpenSSL's reader fails */
	} bad[] = {
		/* X25519: OID 1.3.101.110. */
		{ "x25519.pub",
		    "MCowBQYDK2VuAyEA"
		    "15uwWMmiqLvlY5QK92t+axCPBCL6c8+hxP3rKPWQYBw=",
		    PD_ERR_CRYPTO },
		/* Same text length, a 33-byte key. */
		{ "long.pub",
		    "MCswBQYDK2VwAyIA"
		    "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh",
		    PD_ERR_PARSE },
		/* Same text length, a 31-byte key. */
		{ "short.pub",
		    "MCowBQYDK2VwAyEA"
		    "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHw==",
		    PD_ERR_PARSE },
		/* Not base64. */
		{ "junk.pub",
		    "MCowBQYDK2VwAyEA"
		    "o7MVHFjfq/jiSx9meEOOHV/4xFHA1zMfHK7eD9Ae*q0=",
		    PD_ERR_PARSE },
		/* Ed448, on two lines. */
		{ "ed448.pub",
		    "MEMwBQYDK2VxAzoA"
		    "mkw5/3dPFstH93RIli8uDtkcigFUkCxv/YJUS4Pggk/N9j2q"
		    "\nHw53ZEtxdoyzBkChOFOtp356XyoA",
		    PD_ERR_CRYPTO },
	};
	char *dir = unit_tmpdir(), text[256], want[600];
	struct pd_error err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "-----BEGIN PUBLIC KEY-----\n"
		    "%s\n-----END PUBLIC KEY-----\n", bad[i].body);
		CU_ASSERT_PTR_NULL(load_text(dir, bad[i].name, text, &err));
		CU_ASSERT_EQUAL(err.code, bad[i].code);
		/* Each names the file. */
		if (bad[i].code == PD_ERR_CRYPTO)
			snprintf(want, sizeof(want), "%s/%s: not an Ed25519 "
			    "key", dir, bad[i].name);
		else
			snprintf(want, sizeof(want), "%s/%s: not a PEM "
			    "Ed25519 public key", dir, bad[i].name);
		CU_ASSERT_STRING_EQUAL(err.msg, want);
	}
	unit_rmdir(dir);
}

#define SHARERS	8

struct sharer {
	pthread_t		 th;
	const struct pr_key	*k;
	const unsigned char	*sig;
	unsigned char		 id[PR_KEYID_LEN];
	enum pd_err		 id_rc, verify_rc;
};

static void *
share(void *arg)
{
	struct sharer *s = arg;

	s->verify_rc = pr_verify(s->k, "x", 1, s->sig, NULL);
	s->id_rc = pr_key_id(s->k, s->id, NULL);
	return NULL;
}

/* The first use of a key read from a file may come from many threads. */
static void
test_public_shared(void)
{
	char *dir = unit_tmpdir(), pub[512];
	struct pr_key *k = NULL, *kq = NULL;
	struct sharer s[SHARERS];
	unsigned char sig[PR_SIG_LEN], id[PR_KEYID_LEN];
	size_t i;

	unit_pjoin(pub, sizeof(pub), dir, "t.pub");
	CU_ASSERT_EQUAL_FATAL(pr_key_generate(&k, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pr_key_write_public(k, pub, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pr_key_load(pub, &kq, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pr_sign(k, "x", 1, sig, NULL), PD_OK);
	CU_ASSERT_EQUAL_FATAL(pr_key_id(k, id, NULL), PD_OK);
	for (i = 0; i < SHARERS; i++) {
		s[i].k = kq;
		s[i].sig = sig;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&s[i].th, NULL, share,
		    &s[i]), 0);
	}
	for (i = 0; i < SHARERS; i++) {
		CU_ASSERT_EQUAL(pthread_join(s[i].th, NULL), 0);
		CU_ASSERT_EQUAL(s[i].verify_rc, PD_OK);
		CU_ASSERT_EQUAL(s[i].id_rc, PD_OK);
		CU_ASSERT_EQUAL(memcmp(s[i].id, id, sizeof(id)), 0);
	}
	pr_key_free(k);
	pr_key_free(kq);
	unit_rmdir(dir);
}

static int
suite_sign(void)
{
	static const struct unit_test tests[] = {
		{ "sign and verify", test_sign_verify },
		{ "key files", test_files },
		{ "bad key files", test_bad_files },
		{ "public key read without OpenSSL", test_public_fast },
		{ "public key files of other shapes", test_public_other },
		{ "public key first used by threads", test_public_shared },
	};

	return UNIT_SUITE("sign", NULL, NULL, tests);
}
UNIT_REGISTER("sign", suite_sign)
