/* The bounded RED series table: open addressing over a fixed array of
 * series, allocated once, so an observation never allocates. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/series.h"

#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u
#define SLOT_EMPTY UINT32_MAX
#define HTTP_STATUS_SERVER_ERROR 500
#define HTTP_STATUS_CLIENT_ERROR 400

struct series_table {
	uint32_t max;            /* regular series */
	uint32_t used;           /* regular series in use */
	uint32_t other_used;     /* `other`-route series in use (<= reserve) */
	uint32_t mask;           /* slots - 1 */
	uint32_t *slots;         /* index into series[], or SLOT_EMPTY */
	struct series *series;   /* max + SERIES_OTHER_RESERVE */
	struct series overflow[SERIES_SIDE_COUNT];
	struct series_stats stats;
	bool copy;               /* made by series_table_copy: read only */
};

static const double bucket_bounds[SERIES_BUCKETS] = SERIES_BUCKET_BOUNDS_S;

static const char *const known_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

const double *series_bucket_bounds(void)
{
	return bucket_bounds;
}

const char *series_side_name(enum series_side side)
{
	return side == SERIES_SIDE_CLIENT ? "client" : "server";
}

bool series_is_error(enum series_side side, uint16_t status)
{
	if (side == SERIES_SIDE_CLIENT)
		return status == 0 || status >= HTTP_STATUS_CLIENT_ERROR;
	return status >= HTTP_STATUS_SERVER_ERROR;
}

int series_table_new(struct series_table **out, uint32_t max_series)
{
	struct series_table *t;
	uint32_t slots = 16, total;

	if (!out)
		return -EINVAL;
	if (!max_series)
		max_series = SERIES_MAX_DEFAULT;
	if (max_series > SERIES_MAX_MAX)
		return -EINVAL;
	total = max_series + SERIES_OTHER_RESERVE;
	/* load factor <= 1/2: short probe sequences */
	while (slots < 2 * total)
		slots *= 2;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->slots = malloc(sizeof(*t->slots) * slots);
	t->series = calloc(total, sizeof(*t->series));
	if (!t->slots || !t->series) {
		series_table_free(t);
		return -ENOMEM;
	}
	memset(t->slots, 0xff, sizeof(*t->slots) * slots);
	t->max = max_series;
	t->mask = slots - 1;
	for (int s = 0; s < SERIES_SIDE_COUNT; s++) {
		struct series_key *k = &t->overflow[s].key;

		k->side = (uint8_t)s;
		strcpy(k->method, SERIES_OTHER);
		strcpy(k->route, SERIES_OTHER);
		strcpy(k->process, SERIES_OTHER);
		strcpy(k->container, SERIES_OTHER);
	}
	*out = t;
	return 0;
}

void series_table_free(struct series_table *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->series);
	free(t);
}

static uint32_t hash_str(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * FNV_PRIME;
	return (h ^ 0xffu) * FNV_PRIME; /* field separator: "ab"+"c" != "a"+"bc" */
}

static uint32_t key_hash(const struct series_key *k)
{
	uint32_t h = FNV_OFFSET;

	h = (h ^ k->side) * FNV_PRIME;
	h = (h ^ (k->status & 0xffu)) * FNV_PRIME;
	h = (h ^ (k->status >> 8)) * FNV_PRIME;
	h = hash_str(h, k->method);
	h = hash_str(h, k->route);
	h = hash_str(h, k->process);
	return hash_str(h, k->container);
}

static bool key_equal(const struct series_key *a, const struct series_key *b)
{
	return a->side == b->side && a->status == b->status && !strcmp(a->method, b->method) &&
	       !strcmp(a->route, b->route) && !strcmp(a->process, b->process) &&
	       !strcmp(a->container, b->container);
}

static void copy_label(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = 0;
}

const char *series_method_label(const char *m)
{
	for (size_t i = 0; m && i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
		if (!strcmp(m, known_methods[i]))
			return known_methods[i];
	return "_OTHER";
}

/* The series of k, inserted if there is room in the part of the table it may
 * use (regular or reserve); NULL if none. */
static struct series *lookup_insert(struct series_table *t, const struct series_key *k,
				    bool reserve)
{
	uint32_t h = key_hash(k), i = h & t->mask, idx;

	for (;; i = (i + 1) & t->mask) {
		idx = t->slots[i];
		if (idx == SLOT_EMPTY)
			break;
		if (t->series[idx].hash == h && key_equal(&t->series[idx].key, k))
			return &t->series[idx];
	}
	if (reserve ? t->other_used >= SERIES_OTHER_RESERVE : t->used >= t->max)
		return NULL;
	idx = t->used + t->other_used;
	if (reserve)
		t->other_used++;
	else
		t->used++;
	t->slots[i] = idx;
	t->series[idx].key = *k;
	t->series[idx].hash = h;
	t->series[idx].used = true;
	t->stats.series++;
	return &t->series[idx];
}

static void series_add(struct series *s, bool error, double duration_s)
{
	int b = 0;

	s->count++;
	s->errors += error;
	/* a duration not measured is counted, not observed: the histogram's
	 * count is then below the request count, which is said in docs */
	if (!(duration_s >= 0))
		return;
	while (b < SERIES_BUCKETS && duration_s > bucket_bounds[b])
		b++;
	s->buckets[b]++;
	s->sum_s += duration_s;
}

void series_table_observe(struct series_table *t, enum series_side side, const char *method,
			  uint16_t status, const char *route, const char *process,
			  const char *container, double duration_s)
{
	struct series_key k;
	struct series *s;

	if (!t || t->copy)
		return;
	if ((unsigned)side >= SERIES_SIDE_COUNT)
		side = SERIES_SIDE_SERVER;
	memset(&k, 0, sizeof(k));
	k.side = (uint8_t)side;
	k.status = status;
	copy_label(k.method, sizeof(k.method), series_method_label(method));
	copy_label(k.route, sizeof(k.route), route && *route ? route : "/");
	copy_label(k.process, sizeof(k.process), process);
	copy_label(k.container, sizeof(k.container), container);
	t->stats.records++;
	s = lookup_insert(t, &k, false);
	if (!s) {
		copy_label(k.route, sizeof(k.route), SERIES_OTHER);
		s = lookup_insert(t, &k, true);
		t->stats.overflow_other += s != NULL;
	}
	if (!s) {
		s = &t->overflow[side];
		if (!s->used) {
			s->used = true;
			t->stats.series++;
		}
		t->stats.overflow_all++;
	}
	series_add(s, series_is_error(side, status), duration_s);
}

int series_table_each(const struct series_table *t,
		      int (*fn)(const struct series *s, void *ctx), void *ctx)
{
	int ret;

	if (!t || !fn)
		return -EINVAL;
	for (uint32_t i = 0; i < t->used + t->other_used; i++)
		if ((ret = fn(&t->series[i], ctx)))
			return ret;
	for (int s = 0; s < SERIES_SIDE_COUNT; s++)
		if (t->overflow[s].used && (ret = fn(&t->overflow[s], ctx)))
			return ret;
	return 0;
}

void series_table_stats(const struct series_table *t, struct series_stats *out)
{
	if (!t || !out)
		return;
	*out = t->stats;
}

int series_table_copy(struct series_table *dst, const struct series_table *src)
{
	uint32_t n;

	if (!dst || !src || dst->max != src->max)
		return -EINVAL;
	/* series_table_each reads only the series array and the overflow
	 * pair; the slot index is not needed by a copy that is only read */
	n = src->used + src->other_used;
	memcpy(dst->series, src->series, sizeof(*src->series) * n);
	memcpy(dst->overflow, src->overflow, sizeof(src->overflow));
	dst->used = src->used;
	dst->other_used = src->other_used;
	dst->stats = src->stats;
	dst->copy = true;
	return 0;
}
