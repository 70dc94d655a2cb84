/*
 * CUnit test suites, one or more per module; tests/unit/main.c runs them
 * all.  Each test_X.c has a function that adds its suite and tests
 * (returning 0, or -1 if CUnit refused) and registers it with
 * UNIT_REGISTER, so adding a test file needs no edit anywhere else.
 */
#ifndef UNIT_H
#define UNIT_H

#include <sys/types.h>

#include <CUnit/CUnit.h>

struct unit_test {
	const char	*name;
	CU_TestFunc	 fn;
};

/* Add a suite with these tests, in order; 0, or -1 if CUnit refused. */
int	unit_suite(const char *name, CU_InitializeFunc init,
	    CU_CleanupFunc cleanup, const struct unit_test *tests, size_t n);
#define UNIT_SUITE(name, init, cleanup, tests) \
	unit_suite((name), (init), (cleanup), (tests), \
	    sizeof(tests) / sizeof(tests[0]))

/* Directory of spec/vectors, from the command line. */
extern const char *unit_vectors_dir;

/* A new empty temporary directory (caller frees the string). */
char	*unit_tmpdir(void);
/* The same for a suite's setup, where CUnit takes no assertions: NULL
 * if it cannot be made. */
char	*unit_mkdtemp(void);
/* rm -rf of a directory made by unit_tmpdir, and free the string. */
void	 unit_rmdir(char *);
/* Write a file (mode 0644) with the given bytes; asserts success. */
void	 unit_write(const char *dir, const char *name, const void *, size_t);
/* out = dir "/" name; asserts it fits. */
void	 unit_pjoin(char *out, size_t outsz, const char *dir, const char *name);
/*
 * Drop the capabilities that let root ignore permission bits, for this
 * thread and the threads it starts (tests of "permission denied" run as
 * root in CI; call it in a forked child).  0 on success.
 */
int	 unit_drop_dac_caps(void);
/*
 * Allocate and overwrite memory just freed, and free it again: strings
 * still read after their owner was freed then show it, even without
 * AddressSanitizer.
 */
void	 unit_scribble(void);
/* Exit status of a child, or -1 if it did not exit normally. */
int	 unit_child_status(pid_t pid);

/* Called before main() by UNIT_REGISTER; suites run in link order. */
void	unit_register(const char *name, int (*add)(void));
#define UNIT_REGISTER(name, fn)						\
	static void __attribute__((constructor))			\
	unit_register_##fn(void)					\
	{								\
		unit_register((name), (fn));				\
	}

#endif
