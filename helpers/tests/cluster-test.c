/* cluster-test.c -- checks the Redis Cluster slot function of the redis-cluster:// backend
 * (src/crc16.c) against the fixture orchestrator/test/fixtures/redis-cluster-keys.json:
 * each line of stdin is a key (bytes up to the newline; "\n" inside a key is not supported),
 * each line of stdout its slot; `cluster-test --crc16 STRING` prints the CRC16 of STRING.
 * The vitest test orchestrator/test/handler/cluster-backend.test.ts feeds it every key of
 * the fixture, including the page keys built by the monitor's format. */
#include <stdio.h>
#include <string.h>

#include "crc16.h"

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--crc16")) {
		printf("%u\n", crc16_xmodem(argv[2], strlen(argv[2])));
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: cluster-test [--crc16 STRING] < keys\n");
		return 2;
	}
	static char line[1 << 16];
	while (fgets(line, sizeof line, stdin)) {
		size_t n = strlen(line);
		if (n && line[n - 1] == '\n')
			line[--n] = 0;
		printf("%u\n", key_slot(line, n));
	}
	return 0;
}
