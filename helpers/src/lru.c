/* lru.c -- resident pages in fault-in order, and the choice of the VM to evict from.
 *
 * Each VM keeps its RESIDENT pages in a doubly linked list threaded through struct page
 * (prev/next, NIL-terminated; lru_head the oldest, lru_tail the youngest), appended at
 * fault-in (place) and unlinked on eviction or removal. A userfaultfd handler never sees
 * accesses to mapped pages, so the order is fault-in time, as in FluidMem. Across VMs the
 * policy is global: the victim VM is the one whose oldest page has the oldest tick
 * (M.tick, a wrapping counter compared by signed difference). */
#include "monitor.h"

void lru_append(struct vm *vm, uint32_t pg)
{
	struct page *p = &vm->pages[pg];
	p->prev = vm->lru_tail;
	p->next = NIL;
	if (vm->lru_tail != NIL)
		vm->pages[vm->lru_tail].next = pg;
	else
		vm->lru_head = pg;
	vm->lru_tail = pg;
}

void lru_unlink(struct vm *vm, uint32_t pg)
{
	struct page *p = &vm->pages[pg];
	if (p->prev != NIL)
		vm->pages[p->prev].next = p->next;
	else
		vm->lru_head = p->next;
	if (p->next != NIL)
		vm->pages[p->next].prev = p->prev;
	else
		vm->lru_tail = p->prev;
	p->prev = p->next = NIL;
}

struct vm *lru_victim(void)
{
	struct vm *best = NULL;
	for (struct vm *v = M.vms; v; v = v->next) {
		if (v->dead || v->lru_head == NIL)
			continue;
		bool free_area = false;
		for (unsigned a = 0; a < FM_AREAS && !free_area; a++)
			free_area = !v->batches[a].busy;
		if (!free_area)
			continue;
		if (!best || (int32_t)(v->pages[v->lru_head].tick - best->pages[best->lru_head].tick) < 0)
			best = v;
	}
	return best;
}
