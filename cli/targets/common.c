// SPDX-License-Identifier: GPL-2.0
/*
 * What the targets share: their private state (one zeroed allocation,
 * made by whichever hook needs it first, freed by deinit) and the
 * geometry of a target with no backing store (null, fault), and how a
 * number option is saved.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "ublkctl/devcfg.h"
#include "ublkctl/target.h"

#define NOSTORE_DEF_SIZE (1ULL << 30)

void *ublk_tgt_priv(struct ublk_tgt *tgt, size_t size)
{
	if (!tgt->priv)
		tgt->priv = calloc(1, size);
	if (!tgt->priv)
		ublk_errno(ENOMEM, "%s", tgt->ops->name);
	return tgt->priv;
}

void ublk_tgt_free_priv(struct ublk_tgt *tgt)
{
	free(tgt->priv);
	tgt->priv = NULL;
}

int ublk_tgt_init_nostore(struct ublk_tgt *tgt, const struct ublk_dev_cfg *cfg)
{
	tgt->size = cfg->size ? cfg->size : NOSTORE_DEF_SIZE;
	tgt->lbs = cfg->lbs ? cfg->lbs : 512;
	tgt->pbs = cfg->pbs ? cfg->pbs : 4096;
	if (tgt->pbs < tgt->lbs)
		tgt->pbs = tgt->lbs;
	tgt->min_lbs = 512;
	tgt->dma_align = 512;
	return EXIT_OK;
}

int ublk_emit_u64(ublk_emit_fn emit, void *ctx, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return emit(ctx, name, buf);
}
