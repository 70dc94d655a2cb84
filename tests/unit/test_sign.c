/*
 * Ed25519 keys and signatures (protocol/sign.h).
 */
#include <sys/stat.h>

#include <stdio.h>
#include <string.h>

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
	pr_key_id(k, id1);
	pr_key_id(kq, id2);
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

static int
suite_sign(void)
{
	static const struct unit_test tests[] = {
		{ "sign and verify", test_sign_verify },
		{ "key files", test_files },
		{ "bad key files", test_bad_files },
	};

	return UNIT_SUITE("sign", NULL, NULL, tests);
}
UNIT_REGISTER("sign", suite_sign)
