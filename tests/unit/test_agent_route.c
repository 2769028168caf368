/* agent/route and agent/procinfo: route templates (ids, UUIDs, hex, tokens,
 * query strings, absolute-form targets, truncation), route_path (the path
 * alone, never a query, fragment or user:password), container ids from
 * real /proc/PID/cgroup shapes (docker, containerd, cri-o, podman, none),
 * and the bounded pid cache (hits, replacement, eviction when a set is
 * full, removal), plus this test process's own /proc/self/cgroup. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "agent/procinfo.h"
#include "agent/route.h"

static void tmpl_is(const char *in, const char *want)
{
	char out[ROUTE_BYTES_MAX];
	int n = route_template(in, strlen(in), out, sizeof(out));

	if (n < 0 || strcmp(out, want) || (size_t)n != strlen(want))
		fail_msg("route_template(\"%s\") = %d \"%s\", want \"%s\"", in, n, out, want);
}

static void test_route_ids(void **state)
{
	(void)state;
	tmpl_is("/users/123", "/users/{id}");
	tmpl_is("/users/123/orders/7", "/users/{id}/orders/{id}");
	tmpl_is("/v1/items", "/v1/items");
	tmpl_is("/a/550e8400-e29b-41d4-a716-446655440000/b", "/a/{id}/b");
	tmpl_is("/blob/0123456789abcdef0123", "/blob/{id}");
	tmpl_is("/blob/deadbeef", "/blob/deadbeef"); /* short hex is a word */
	tmpl_is("/t/aGVsbG8gd29ybGQgaGVsbG8gd29y1", "/t/{id}");
	tmpl_is("/t/a-very-long-but-plain-word-here", "/t/a-very-long-but-plain-word-here");
	tmpl_is("/users/123?token=secret&x=1", "/users/{id}");
	tmpl_is("/p#frag", "/p");
	tmpl_is("", "/");
	tmpl_is("?q=1", "/");
	tmpl_is("/", "/");
	tmpl_is("/a//b/", "/a//b/");
	tmpl_is("*", "*");
	tmpl_is("http://example.com:8080/users/42?x=1", "/users/{id}");
	tmpl_is("http://example.com", "/");
	tmpl_is("/42", "/{id}");
	/* the authority ends at a query or fragment: what follows is no path */
	tmpl_is("http://example.com?next=/secret/x", "/");
	tmpl_is("http://example.com#/secret", "/");
	tmpl_is("http://user:secret@example.com/a?b", "/a");
	tmpl_is("#/secret", "/");
}

static void path_is(const char *in, const char *want)
{
	size_t n = 12345;
	const char *p = route_path(in, strlen(in), &n);

	if (n != strlen(want) || (n && strncmp(p, want, n)))
		fail_msg("route_path(\"%s\") = \"%.*s\", want \"%s\"", in, (int)n, p, want);
}

/* The path alone: never a byte of a query, a fragment or a user:password. */
static void test_route_path(void **state)
{
	static const char nul[] = "/p\0secret";
	size_t n = 9;

	(void)state;
	path_is("/p?token=secret&next=x", "/p");
	path_is("/p#secret", "/p");
	path_is("/p?a=1#secret", "/p");
	path_is("/a/b/", "/a/b/");
	path_is("http://user:secret@example.com:8080/p?q=1", "/p");
	path_is("https://example.com/p#f", "/p");
	path_is("http://example.com?next=/secret", "");
	path_is("http://example.com#/secret", "");
	path_is("http://example.com", "");
	path_is("?q=/secret", "");
	path_is("*", "*");
	path_is("example.com:443", "example.com:443"); /* authority-form */
	assert_ptr_equal(route_path(nul, sizeof(nul) - 1, &n), nul);
	assert_int_equal(n, 2); /* a NUL ends it */
	assert_null(route_path(NULL, 5, &n));
	assert_int_equal(n, 0);
}

static void test_route_truncation(void **state)
{
	char in[1024], out[ROUTE_BYTES_MAX], small[ROUTE_OUT_BYTES_MIN];
	int n;

	(void)state;
	memset(in, 0, sizeof(in));
	for (int i = 0; i < 100; i++)
		strcat(in, "/seg");
	n = route_template(in, strlen(in), out, sizeof(out));
	assert_true(n > 0 && (size_t)n < sizeof(out));
	assert_int_equal(strlen(out), n);
	assert_string_equal(out + n - strlen(ROUTE_TRUNCATED_SUFFIX), ROUTE_TRUNCATED_SUFFIX);
	/* whole segments only before the mark */
	assert_memory_equal(out, in, (size_t)n - strlen(ROUTE_TRUNCATED_SUFFIX));
	n = route_template(in, strlen(in), small, sizeof(small));
	assert_true(n > 0 && (size_t)n < sizeof(small));
	/* one huge segment */
	memset(in, 'x', 500);
	in[0] = '/';
	in[500] = 0;
	n = route_template(in, strlen(in), out, sizeof(out));
	assert_string_equal(out, ROUTE_TRUNCATED_SUFFIX);
	assert_int_equal(route_template("/a", 2, small, 4), -EINVAL);
	assert_int_equal(route_template("/a", 2, NULL, 64), -EINVAL);
	assert_int_equal(route_template(NULL, 0, out, sizeof(out)), 1);
	assert_string_equal(out, "/");
}

#define ID64 "3f4b1c2d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"

static void cid_is(const char *content, const char *want)
{
	char out[CONTAINER_ID_HEX + 1];
	int n = container_id_parse(content, strlen(content), out, sizeof(out));

	if (n != (int)strlen(want) || strcmp(out, want))
		fail_msg("container_id_parse(\"%s\") = %d \"%s\", want \"%s\"", content, n, out, want);
}

static void test_container_ids(void **state)
{
	char out[CONTAINER_ID_HEX + 1];

	(void)state;
	/* docker, cgroup v1 */
	cid_is("12:memory:/docker/" ID64 "\n11:cpu,cpuacct:/docker/" ID64 "\n", ID64);
	/* docker, cgroup v2 with the systemd driver */
	cid_is("0::/system.slice/docker-" ID64 ".scope\n", ID64);
	/* containerd under Kubernetes, systemd driver */
	cid_is("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1d2e3f40_"
	       "aaaa_bbbb_cccc_0123456789ab.slice/cri-containerd-" ID64 ".scope\n", ID64);
	/* containerd, cgroupfs driver */
	cid_is("0::/kubepods/besteffort/pod1d2e3f40-aaaa-bbbb-cccc-0123456789ab/" ID64 "\n", ID64);
	/* cri-o, and its conmon which is not the container */
	cid_is("0::/kubepods.slice/kubepods-pod1.slice/crio-" ID64 ".scope\n", ID64);
	cid_is("0::/machine.slice/crio-conmon-" ID64 ".scope\n", "");
	/* podman, rootful and rootless */
	cid_is("0::/machine.slice/libpod-" ID64 ".scope/container\n", ID64);
	cid_is("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID64
	       ".scope\n", ID64);
	/* upper case hex is reported lower case */
	cid_is("0::/docker/3F4B1C2D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F809\n",
	       ID64);
	/* hosts: none */
	cid_is("0::/user.slice/user-0.slice/session-3.scope\n", "");
	cid_is("0::/\n", "");
	cid_is("", "");
	cid_is("0::/docker/" ID64 "0\n", ""); /* 65 digits: not an id */
	cid_is("0::/docker-" ID64 "\n", "");  /* a prefix without .scope */
	assert_int_equal(container_id_parse("x", 1, out, 10), -EINVAL);
	/* this process: readable, whatever it says */
	assert_int_equal(container_id_of_pid((uint32_t)getpid(), out, sizeof(out)), 0);
	assert_true(strlen(out) == 0 || strlen(out) == CONTAINER_ID_HEX);
	assert_true(container_id_of_pid(0x7ffffff0u, out, sizeof(out)) < 0);
}

static void test_proc_cache(void **state)
{
	struct proc_cache *c;
	struct proc_cache_stats st;
	const struct proc_entry *e;
	uint32_t evictions;

	(void)state;
	assert_int_equal(proc_cache_new(&c, 8), 0);
	assert_null(proc_cache_get(c, 100));
	proc_cache_put(c, 100, "nginx", ID64);
	e = proc_cache_get(c, 100);
	assert_non_null(e);
	assert_string_equal(e->name, "nginx");
	assert_string_equal(e->container, ID64);
	assert_true(e->container_known);
	proc_cache_put(c, 100, "a-name-that-is-much-longer-than-thirty-two-bytes", NULL);
	e = proc_cache_get(c, 100);
	assert_int_equal(strlen(e->name), SERIES_NAME_BYTES - 1);
	assert_string_equal(e->container, "");
	assert_false(e->container_known); /* NULL: not read yet */
	proc_cache_put(c, 100, e->name, "");
	assert_true(proc_cache_get(c, 100)->container_known);
	proc_cache_remove(c, 100);
	assert_null(proc_cache_get(c, 100));
	/* many more pids than entries: bounded, evictions counted, the last
	 * one put is always found */
	for (uint32_t pid = 1; pid <= 1000; pid++) {
		proc_cache_put(c, pid, "p", "");
		assert_non_null(proc_cache_get(c, pid));
	}
	proc_cache_stats(c, &st);
	assert_true(st.entries <= 8);
	evictions = (uint32_t)st.evictions;
	assert_int_equal(evictions, 1000 - st.entries);
	assert_int_equal(st.removals, 1);
	proc_cache_put(c, 0, "zero", ""); /* pid 0 is never cached */
	assert_null(proc_cache_get(c, 0));
	proc_cache_free(c);
	assert_int_equal(proc_cache_new(&c, PROC_CACHE_MAX_MAX + 1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_ids),
		cmocka_unit_test(test_route_path),
		cmocka_unit_test(test_route_truncation),
		cmocka_unit_test(test_container_ids),
		cmocka_unit_test(test_proc_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
