/* probe.c -- uffd-probe: report the kernel's userfaultfd capabilities as one JSON line.
 * Opens a userfaultfd, performs the UFFDIO_API handshake with no features requested
 * (the kernel answers with everything it supports) and decodes the bits. Exit 0 if
 * userfaultfd is usable by this process, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd_compat.h"

static const struct { const char *name; unsigned long long bit; } features[] = {
	{"pagefault_flag_wp", UFFD_FEATURE_PAGEFAULT_FLAG_WP},
	{"event_fork", UFFD_FEATURE_EVENT_FORK},
	{"event_remap", UFFD_FEATURE_EVENT_REMAP},
	{"event_remove", UFFD_FEATURE_EVENT_REMOVE},
	{"missing_hugetlbfs", UFFD_FEATURE_MISSING_HUGETLBFS},
	{"missing_shmem", UFFD_FEATURE_MISSING_SHMEM},
	{"event_unmap", UFFD_FEATURE_EVENT_UNMAP},
	{"sigbus", UFFD_FEATURE_SIGBUS},
	{"thread_id", UFFD_FEATURE_THREAD_ID},
	{"minor_hugetlbfs", UFFD_FEATURE_MINOR_HUGETLBFS},
	{"minor_shmem", UFFD_FEATURE_MINOR_SHMEM},
	{"exact_address", UFFD_FEATURE_EXACT_ADDRESS},
	{"wp_hugetlbfs_shmem", UFFD_FEATURE_WP_HUGETLBFS_SHMEM},
	{"wp_unpopulated", UFFD_FEATURE_WP_UNPOPULATED},
	{"poison", UFFD_FEATURE_POISON},
	{"wp_async", UFFD_FEATURE_WP_ASYNC},
	{"move", UFFD_FEATURE_MOVE},
};

static const struct { const char *name; int nr; } ioctls[] = {
	{"register", _UFFDIO_REGISTER}, {"unregister", _UFFDIO_UNREGISTER}, {"wake", _UFFDIO_WAKE},
	{"copy", _UFFDIO_COPY}, {"zeropage", _UFFDIO_ZEROPAGE}, {"move", _UFFDIO_MOVE},
	{"writeprotect", _UFFDIO_WRITEPROTECT}, {"continue", _UFFDIO_CONTINUE},
	{"poison", _UFFDIO_POISON}, {"api", _UFFDIO_API},
};

static int fail(const char *what)
{
	printf("{\"available\":false,\"api\":0,\"features\":{},\"ioctls\":[],\"error\":\"%s: %s\"}\n",
	       what, strerror(errno));
	return 1;
}

int main(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0)
		return fail("userfaultfd()");
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return fail("UFFDIO_API");
	/* per-range ioctls (copy, zeropage, move, ...) are reported by UFFDIO_REGISTER */
	unsigned long long ioc = api.ioctls;
	int fd2 = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	struct uffdio_api api2 = {.api = UFFD_API, .features = 0};
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fd2 >= 0 && page != MAP_FAILED && ioctl(fd2, UFFDIO_API, &api2) == 0) {
		struct uffdio_register reg = {.range = {.start = (unsigned long)page, .len = 4096},
					      .mode = UFFDIO_REGISTER_MODE_MISSING};
		if (ioctl(fd2, UFFDIO_REGISTER, &reg) == 0)
			ioc |= reg.ioctls;
	}
	printf("{\"available\":true,\"api\":%llu,\"features\":{", (unsigned long long)api.api);
	for (size_t i = 0; i < sizeof features / sizeof *features; i++)
		printf("%s\"%s\":%s", i ? "," : "", features[i].name,
		       (api.features & features[i].bit) ? "true" : "false");
	printf("},\"feature_bits\":%llu,\"ioctls\":[", (unsigned long long)api.features);
	int first = 1;
	for (size_t i = 0; i < sizeof ioctls / sizeof *ioctls; i++)
		if (ioc & (1ull << ioctls[i].nr)) {
			printf("%s\"%s\"", first ? "" : ",", ioctls[i].name);
			first = 0;
		}
	printf("]}\n");
	close(fd);
	return 0;
}
