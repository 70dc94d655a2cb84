/*
 * Runs every CUnit suite and prints CUnit's summary.  Exit status 0 only
 * if every test passed.  Usage: unit-tests VECTORS_DIR [SUITE...]
 */
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/capability.h>

#include <CUnit/Basic.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/fsx.h"
#include "../../common/mem.h"
#include "unit.h"

const char *unit_vectors_dir = "spec/vectors";

#define MAX_SUITES	64

static struct {
	const char	*name;
	int		(*add)(void);
} suites[MAX_SUITES];
static size_t nsuites;

void
unit_register(const char *name, int (*add)(void))
{
	if (nsuites == MAX_SUITES) {
		fprintf(stderr, "unit: more than %d suites\n", MAX_SUITES);
		abort();
	}
	suites[nsuites].name = name;
	suites[nsuites].add = add;
	nsuites++;
}

char *
unit_mkdtemp(void)
{
	char tmpl[] = "/tmp/pulpdist-unit.XXXXXX";

	return mkdtemp(tmpl) != NULL ? pd_strdup(tmpl) : NULL;
}

char *
unit_tmpdir(void)
{
	char *d = unit_mkdtemp();

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	return d;
}

void
unit_scribble(void)
{
	void *v[64];
	size_t i;

	for (i = 0; i < 64; i++)
		if ((v[i] = pd_malloc((size_t)4096 << (i % 4))) != NULL)
			memset(v[i], 'X', (size_t)4096 << (i % 4));
	for (i = 0; i < 64; i++)
		pd_free(v[i]);
}

void
unit_rmdir(char *d)
{
	if (d == NULL)
		return;
	CU_ASSERT_EQUAL(pd_remove_tree_at(AT_FDCWD, d, NULL), PD_OK);
	pd_free(d);
}

void
unit_write(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(p, 1, n, f), n);
	CU_ASSERT_EQUAL(fclose(f), 0);
}

int
unit_suite(const char *name, CU_InitializeFunc init, CU_CleanupFunc cleanup,
    const struct unit_test *tests, size_t n)
{
	CU_pSuite s;
	size_t i;

	if ((s = CU_add_suite(name, init, cleanup)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (CU_add_test(s, tests[i].name, tests[i].fn) == NULL)
			return -1;
	return 0;
}

void
unit_pjoin(char *out, size_t outsz, const char *dir, const char *name)
{
	int n = snprintf(out, outsz, "%s/%s", dir, name);

	CU_ASSERT_FATAL(n > 0 && (size_t)n < outsz);
}

int
unit_drop_dac_caps(void)
{
	struct __user_cap_header_struct h;
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(&h, 0, sizeof(h));
	memset(d, 0, sizeof(d));
	h.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	d[0].effective &= ~((1U << CAP_DAC_OVERRIDE) |
	    (1U << CAP_DAC_READ_SEARCH));
	return (int)syscall(SYS_capset, &h, d);
}

int
unit_child_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int
main(int argc, char **argv)
{
	size_t i;
	int a, failed, want;

	if (argc > 1)
		unit_vectors_dir = argv[1];
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (i = 0; i < nsuites; i++) {
		want = argc <= 2;
		for (a = 2; a < argc; a++)
			want |= strcmp(argv[a], suites[i].name) == 0;
		if (want && suites[i].add() != 0) {
			fprintf(stderr, "cannot register suite %s\n",
			    suites[i].name);
			return 2;
		}
	}
	CU_basic_set_mode(CU_BRM_NORMAL);
	CU_basic_run_tests();
	failed = (int)CU_get_number_of_failures();
	if (CU_get_number_of_tests_run() == 0)
		failed = 1;
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
