/* lru.c -- resident pages in fault-in order, and the choice of the VM to evict from.
 *
 * Each VM keeps its RESIDENT pages in a doubly linked list threaded through struct page
 * (prev/next, NIL-terminated; lru_head the oldest, lru_tail the youngest), appended at
 * fault-in (place) and unlinked on eviction or removal. A userfaultfd handler never sees
 * accesses to mapped pages, so the order is fault-in time, as in FluidMem. Across VMs the
 * policy is global: the victim VM is the one whose oldest page has the oldest tick
 * (M.tick, a wrapping counter compared by signed difference).
 *
 * Victim choice is independent of the number of attached VMs (issue 11 item 5): the VMs that
 * can give a victim now -- resident pages and a free staging area -- sit in a binary
 * min-heap keyed by their oldest page's tick (struct vm.heap_idx, NIL when out of it).
 * lru_victim() reads its top in O(1); whatever changes a VM's head page or whether it has a
 * free area calls lru_update(vm), O(log n): lru_append/lru_unlink themselves when the head
 * changes, evict.c when a batch takes or frees an area, adopt.c and vm_destroy. */
#include <stdlib.h>

#include "monitor.h"

static struct vm **heap; /* heap[0] the VM with the oldest page among those eligible */
static uint32_t nheap, capheap;

/* a's oldest page is older than b's */
static bool older(const struct vm *a, const struct vm *b)
{
	return (int32_t)(a->pages[a->lru_head].tick - b->pages[b->lru_head].tick) < 0;
}

static void heap_put(uint32_t i, struct vm *v)
{
	heap[i] = v;
	v->heap_idx = i;
}

static void sift_up(uint32_t i)
{
	struct vm *v = heap[i];
	while (i > 0 && older(v, heap[(i - 1) / 2])) {
		heap_put(i, heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_put(i, v);
}

static void sift_down(uint32_t i)
{
	struct vm *v = heap[i];
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= nheap)
			break;
		if (c + 1 < nheap && older(heap[c + 1], heap[c]))
			c++;
		if (!older(heap[c], v))
			break;
		heap_put(i, heap[c]);
		i = c;
	}
	heap_put(i, v);
}

/* resident pages and a free staging area */
static bool eligible(const struct vm *v)
{
	if (v->dead || v->lru_head == NIL)
		return false;
	for (unsigned a = 0; a < FM_AREAS; a++)
		if (!v->batches[a].busy)
			return true;
	return false;
}

void lru_update(struct vm *vm)
{
	bool in = vm->heap_idx != NIL, want = eligible(vm);
	if (!in && want) {
		if (nheap == capheap) {
			capheap = capheap ? capheap * 2 : 64;
			heap = xrealloc(heap, capheap * sizeof *heap);
		}
		heap_put(nheap++, vm);
		sift_up(nheap - 1);
	} else if (in && !want) {
		uint32_t i = vm->heap_idx;
		struct vm *last = heap[--nheap];
		vm->heap_idx = NIL;
		if (i < nheap) {
			heap_put(i, last);
			sift_up(i);
			sift_down(last->heap_idx);
		}
	} else if (in) {
		sift_up(vm->heap_idx);
		sift_down(vm->heap_idx);
	}
}


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
	if (vm->lru_head == pg)
		lru_update(vm); /* it had no resident page */
}

void lru_unlink(struct vm *vm, uint32_t pg)
{
	struct page *p = &vm->pages[pg];
	if (p->prev != NIL)
		vm->pages[p->prev].next = p->next;
	else
		vm->lru_head = p->next;
	bool head = p->prev == NIL;
	if (p->next != NIL)
		vm->pages[p->next].prev = p->prev;
	else
		vm->lru_tail = p->prev;
	p->prev = p->next = NIL;
	if (head)
		lru_update(vm); /* its oldest page changed */
}

struct vm *lru_victim(void)
{
	return nheap ? heap[0] : NULL;
}
