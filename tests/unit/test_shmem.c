// SPDX-License-Identifier: GPL-2.0
/* Where a UBLK_IO_F_SHMEM_ZC request's data lies in the --shmem-zc mapping. */
#include <stddef.h>
#include <linux/ublk_cmd.h>

#include "ublkctl/shmem.h"
#include "unit.h"

static char mem[8192];

int main(void)
{
	struct ublk_shmem m = { .base = mem, .len = sizeof(mem) };
	uint64_t idx0 = (uint64_t)UBLK_SHMEM_INDEX << UBLK_SHMEM_ZC_IDX_OFF;

	CHECK(ublk_shmem_addr(&m, idx0, 4096) == mem);
	CHECK(ublk_shmem_addr(&m, idx0 | 4096, 4096) == mem + 4096);
	CHECK(ublk_shmem_addr(&m, idx0 | 512, 512) == mem + 512);
	/* past the end, even by one byte */
	CHECK(ublk_shmem_addr(&m, idx0 | 4097, 4096) == NULL);
	CHECK(ublk_shmem_addr(&m, idx0 | 8192, 1) == NULL);
	/* another buffer's index, reserved bits, no mapping */
	CHECK(ublk_shmem_addr(&m,
			      (uint64_t)(UBLK_SHMEM_INDEX + 1)
				      << UBLK_SHMEM_ZC_IDX_OFF,
			      512) == NULL);
	CHECK(ublk_shmem_addr(&m, idx0 | 1ULL << 48, 512) == NULL);
	CHECK(ublk_shmem_addr(NULL, idx0, 512) == NULL);
	m.base = NULL;
	CHECK(ublk_shmem_addr(&m, idx0, 512) == NULL);
	return unit_done("test_shmem");
}
