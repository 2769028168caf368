/* The arithmetic of `sonde stress` (see stress.h): slopes, recovery times,
 * step verdicts, phase sums, the resilience score and its rating. Pure
 * functions of the samples and steps, so the unit tests can pin them down. */
#include "lab/stress.h"

#include <math.h>
#include <string.h>

#include "lab/report_text.h"

static const char *const phase_names[LAB_STRESS_PHASES] = {
	"ramp-up", "sustain", "chaos", "memory", "ramp-down",
};
static const char *const fault_names[LAB_STRESS_FAULTS] = {
	"stall", "kill", "cpu", "churn", "slow", "vanish", "hostile", "memory",
};

const char *lab_stress_phase_name(int phase)
{
	return phase >= 0 && phase < LAB_STRESS_PHASES ? phase_names[phase] : "?";
}

const char *lab_stress_fault_name(int fault)
{
	return fault >= 0 && fault < LAB_STRESS_FAULTS ? fault_names[fault] : "?";
}

int lab_stress_phase_parse(const char *name)
{
	for (int i = 0; i < LAB_STRESS_PHASES; i++)
		if (!strcmp(name, phase_names[i]))
			return i;
	return -1;
}

int lab_stress_fault_parse(const char *name)
{
	for (int i = 0; i < LAB_STRESS_FAULTS; i++)
		if (!strcmp(name, fault_names[i]))
			return i;
	return -1;
}

double lab_stress_slope(const double *x, const double *y, int n)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, m = 0;

	for (int i = 0; i < n; i++) {
		if (isnan(x[i]) || isnan(y[i]))
			continue;
		sx += x[i];
		sy += y[i];
		sxx += x[i] * x[i];
		sxy += x[i] * y[i];
		m++;
	}
	if (m < 3)
		return NAN;
	{
		double den = m * sxx - sx * sx;

		/* x all (nearly) equal: no slope to speak of */
		if (!(fabs(den) > 1e-12 * (m * sxx + 1e-300)))
			return NAN;
		return (m * sxy - sx * sy) / den;
	}
}

double lab_stress_rss_slope(const struct lab_stress_sample *s, int n, int phase,
			    double skip_frac)
{
	double t0 = NAN, t1 = NAN, x[4096], y[4096];
	int m = 0;

	for (int i = 0; i < n; i++)
		if (s[i].phase == phase) {
			if (isnan(t0))
				t0 = s[i].t_s;
			t1 = s[i].t_s;
		}
	if (isnan(t0))
		return NAN;
	for (int i = 0; i < n && m < (int)(sizeof(x) / sizeof(x[0])); i++) {
		if (s[i].phase != phase || !s[i].tracer_up || s[i].t_s < t0 + skip_frac * (t1 - t0))
			continue;
		x[m] = s[i].t_s / 60.0;
		y[m] = s[i].rss_mb;
		m++;
	}
	return lab_stress_slope(x, y, m);
}

enum lab_stress_leak lab_stress_leak_verdict(double slope_mb_min)
{
	if (isnan(slope_mb_min))
		return LAB_STRESS_LEAK_UNKNOWN;
	if (slope_mb_min <= LAB_STRESS_LEAK_NONE_MB_MIN)
		return LAB_STRESS_LEAK_NONE;
	if (slope_mb_min <= LAB_STRESS_LEAK_SUSPECT_MB_MIN)
		return LAB_STRESS_LEAK_SUSPECT;
	return LAB_STRESS_LEAK_YES;
}

const char *lab_stress_leak_name(enum lab_stress_leak l)
{
	switch (l) {
	case LAB_STRESS_LEAK_NONE:
		return "no leak";
	case LAB_STRESS_LEAK_SUSPECT:
		return "suspect";
	case LAB_STRESS_LEAK_YES:
		return "leak";
	default:
		return "not measured";
	}
}

/* Window i is (s[i-1], s[i]]. */
static bool window_good(const struct lab_stress_sample *s, int n, int i, double ok_pct)
{
	double req = s[i].requests - s[i - 1].requests;
	double ev = s[i].events_by_time - s[i - 1].events_by_time;
	/* the counters a sample reads are those of about the previous one */
	double dr = i + 1 < n ? s[i + 1].drops - s[i].drops : s[i].drops - s[i - 1].drops;

	if (!s[i].tracer_up || !s[i - 1].tracer_up)
		return false;
	if (dr > 0)
		return false;
	if (isnan(ev))
		return false;
	/* no ground truth per window (a URL target): judged on drops alone */
	if (isnan(req))
		return true;
	return req <= 0 || ev * 100.0 >= ok_pct * req;
}

double lab_stress_recovery_s(const struct lab_stress_sample *s, int n, double fault_end_s,
			     double until_s, double ok_pct)
{
	for (int i = 1; i + LAB_STRESS_RECOVERY_WINDOWS - 1 < n; i++) {
		bool good = true;

		if (s[i - 1].t_s < fault_end_s - 1e-9)
			continue;
		if (s[i].t_s > until_s + 1e-9)
			break;
		for (int k = 0; k < LAB_STRESS_RECOVERY_WINDOWS && good; k++)
			good = s[i + k].t_s <= until_s + 1e-9 && window_good(s, n, i + k, ok_pct);
		if (good)
			return s[i - 1].t_s - fault_end_s;
	}
	return NAN;
}

double lab_stress_recovery_points(double recovery_s)
{
	double span = LAB_STRESS_RECOVERY_ZERO_S - LAB_STRESS_RECOVERY_FULL_S;

	if (isnan(recovery_s))
		return 0;
	if (recovery_s <= LAB_STRESS_RECOVERY_FULL_S)
		return 1;
	if (recovery_s >= LAB_STRESS_RECOVERY_ZERO_S)
		return 0;
	return 1.0 - (recovery_s - LAB_STRESS_RECOVERY_FULL_S) / span;
}

void lab_stress_score(const struct lab_stress_result *r, struct lab_stress_score_parts *p)
{
	const struct lab_stress_phase_result *sus = &r->phases[LAB_STRESS_SUSTAIN];
	const struct lab_stress_config *cfg = r->cfg;
	double weight = 0, got = 0, rec = 0;
	int nfaults = 0;

	memset(p, 0, sizeof(*p));
	p->capture = p->recovery = p->headroom = p->leak = NAN;
	if (sus->ran && !isnan(sus->capture_pct)) {
		p->capture = 30.0 * fmin(1.0, sus->capture_pct / 100.0) * (sus->drops > 0 ? 0.5 : 1.0);
		weight += 30;
		got += p->capture;
	}
	for (int f = 0; f < LAB_STRESS_FAULTS; f++) {
		const struct lab_stress_fault_result *fr = &r->faults[f];

		if (!fr->ran)
			continue;
		nfaults++;
		rec += fr->check_ok && fr->invariant ? lab_stress_recovery_points(fr->recovery_s) : 0;
	}
	if (nfaults) {
		p->recovery = 30.0 * rec / nfaults;
		weight += 30;
		got += p->recovery;
	}
	if (r->phases[LAB_STRESS_RAMP_UP].ran && cfg && cfg->target_rate > 0) {
		double clean = isnan(r->clean_rps) ? 0 : r->clean_rps;

		p->headroom = 20.0 * fmin(1.0, clean / cfg->target_rate);
		weight += 20;
		got += p->headroom;
	}
	if (sus->ran) {
		enum lab_stress_leak l = lab_stress_leak_verdict(r->rss_slope_mb_min);

		p->leak = l == LAB_STRESS_LEAK_NONE ? 10 : l == LAB_STRESS_LEAK_YES ? 0 : 5;
		weight += 10;
		got += p->leak;
	}
	p->integrity = r->bad_lines == 0 && r->stats_bad == 0 ? 10 : 0;
	weight += 10;
	got += p->integrity;
	p->total = got * 100.0 / weight;
}

enum lab_stress_rating lab_stress_rating_of(double score)
{
	if (score >= 90)
		return LAB_STRESS_EXCELLENT;
	if (score >= 75)
		return LAB_STRESS_GOOD;
	if (score >= 50)
		return LAB_STRESS_FAIR;
	return LAB_STRESS_POOR;
}

const char *lab_stress_rating_name(enum lab_stress_rating r)
{
	static const char *const names[] = { "poor", "fair", "good", "excellent" };

	return r >= LAB_STRESS_POOR && r <= LAB_STRESS_EXCELLENT ? names[r] : "?";
}

bool lab_stress_step_judge(struct lab_stress_step *st, double slo_p99_ms)
{
	st->ok = false;
	st->why[0] = '\0';
	if (st->errors > 0)
		lab_set_err(st->why, sizeof(st->why), "%llu load errors",
			    (unsigned long long)st->errors);
	else if (isnan(st->capture_pct) || st->capture_pct < 100.0)
		lab_set_err(st->why, sizeof(st->why), "capture %s %%",
			    lab_fmt_num(st->capture_pct, 2));
	else if (st->capture_pct > LAB_CAPTURE_OVER_PCT)
		/* other traffic counted: a loss would not show */
		lab_set_err(st->why, sizeof(st->why),
			    "capture %s %%: the tracer counts more than the target's requests "
			    "(narrow it to the target's port or pid)",
			    lab_fmt_num(st->capture_pct, 2));
	else if (st->drops > 0)
		lab_set_err(st->why, sizeof(st->why), "%.0f drops", st->drops);
	else if (!isnan(slo_p99_ms) && !(st->p99_ms <= slo_p99_ms))
		lab_set_err(st->why, sizeof(st->why), "p99 %s ms > SLO %s ms",
			    lab_fmt_num(st->p99_ms, 2), lab_fmt_num(slo_p99_ms, 2));
	else
		st->ok = true;
	return st->ok;
}

/* The lab's limits (thresholds.c) against the steps of ramp-up and sustain:
 * the faults of chaos lose events on purpose and are judged by their own
 * checks. There is no baseline here, so p99 added is not measured. */
static void stress_checks(struct lab_stress_result *r)
{
	struct lab_threshold_obs o = { NAN, NAN, NAN, NAN, NAN };
	int failed;

	for (int i = 0; i < r->nsteps; i++) {
		const struct lab_stress_step *st = &r->steps[i];
		double d = st->t_end_s - st->t_start_s, eps;

		if (st->phase != LAB_STRESS_RAMP_UP && st->phase != LAB_STRESS_SUSTAIN)
			continue;
		if (!isnan(st->cpu_pct_mean) && (isnan(o.tracer_cpu_pct) || st->cpu_pct_mean > o.tracer_cpu_pct))
			o.tracer_cpu_pct = st->cpu_pct_mean;
		if (!(d > 0) || isnan(st->events))
			continue;
		eps = st->events / d;
		if (st->drops > 0 || !(st->capture_pct >= 100.0)) {
			if (isnan(o.events_per_s_lossy) || eps < o.events_per_s_lossy)
				o.events_per_s_lossy = eps;
		} else if (isnan(o.events_per_s_clean) || eps > o.events_per_s_clean) {
			o.events_per_s_clean = eps;
		}
	}
	for (int i = 0; i < r->nsamples; i++)
		if (!isnan(r->samples[i].rss_mb) && (isnan(o.rss_mb) || r->samples[i].rss_mb > o.rss_mb))
			o.rss_mb = r->samples[i].rss_mb;
	failed = r->cfg ? lab_thresholds_check(&r->cfg->thresholds, &o, r->checks) : 0;
	r->checks_failed = failed > 0 ? failed : 0;
}

void lab_stress_summarize(struct lab_stress_result *r)
{
	for (int p = 0; p < LAB_STRESS_PHASES; p++) {
		struct lab_stress_phase_result *ph = &r->phases[p];
		double dur = 0, cpu_w = 0, offered = 0;
		int nsteps = 0;

		ph->sent = ph->completed = ph->errors = 0;
		ph->requests = ph->events = ph->drops = ph->partial = 0;
		ph->cpu_pct_max = ph->rss_mb_max = NAN;
		ph->capture_pct = ph->cpu_pct_mean = ph->offered_rps = ph->achieved_rps = NAN;
		for (int i = 0; i < r->nsteps; i++) {
			const struct lab_stress_step *st = &r->steps[i];
			double d = st->t_end_s - st->t_start_s;

			if (st->phase != p)
				continue;
			nsteps++;
			ph->sent += st->sent;
			ph->completed += st->completed;
			ph->errors += st->errors;
			if (!isnan(st->requests))
				ph->requests += st->requests;
			if (!isnan(st->events))
				ph->events += st->events;
			if (!isnan(st->drops))
				ph->drops += st->drops;
			if (!isnan(st->partial))
				ph->partial += st->partial;
			if (!isnan(st->cpu_pct_mean) && d > 0) {
				cpu_w += st->cpu_pct_mean * d;
				dur += d;
			}
			offered = fmax(offered, st->offered_rps);
			if (isnan(ph->cpu_pct_max) || st->cpu_pct_mean > ph->cpu_pct_max)
				ph->cpu_pct_max = st->cpu_pct_mean;
			if (isnan(ph->rss_mb_max) || st->rss_mb_max > ph->rss_mb_max)
				ph->rss_mb_max = st->rss_mb_max;
			if (isnan(ph->achieved_rps) || st->achieved_rps > ph->achieved_rps)
				ph->achieved_rps = st->achieved_rps;
		}
		ph->ran = nsteps > 0;
		if (!ph->ran)
			continue;
		ph->offered_rps = offered;
		if (dur > 0)
			ph->cpu_pct_mean = cpu_w / dur;
		if (ph->requests > 0)
			ph->capture_pct = ph->events / ph->requests * 100.0;
		if (ph->hist.counts && lab_hist_count(&ph->hist) > 0) {
			ph->p50_ms = (double)lab_hist_percentile(&ph->hist, 50) / 1e6;
			ph->p99_ms = (double)lab_hist_percentile(&ph->hist, 99) / 1e6;
		} else {
			ph->p50_ms = ph->p99_ms = NAN;
		}
	}
	stress_checks(r);
	r->rss_slope_mb_min = lab_stress_rss_slope(r->samples, r->nsamples, LAB_STRESS_SUSTAIN, 0.2);
	r->leak = lab_stress_leak_verdict(r->rss_slope_mb_min);
	lab_stress_score(r, &r->score);
	r->rating = lab_stress_rating_of(r->score.total);
}
