/* The results directory of `sonde stress` (see stress.h): results.json (every
 * figure, the timeline included), report.md (tables, the formulas of the
 * score and the rating), summary.txt (what the terminal shows) and SVG
 * charts of the tracer's RSS, the capture and the throughput over time. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/report_text.h"
#include "lab/stress.h"
#include "lab/svg.h"

#define SCORE_FORMULA                                                                           \
	"capture 30 x min(1, sustain capture/100) x (0.5 if sustain dropped events, else 1)"    \
	" + recovery 30 x mean over faults of r(recovery s) (0 for a failed check), r = 1 up to" \
	" 1 s, linear to 0 at 30 s, 0 if not recovered + headroom 20 x min(1, clean rate /"     \
	" target rate) + leak 10 (no leak), 5 (suspect or not measured), 0 (leak) + integrity" \
	" 10 if every output line parsed and every closing stats record balanced; parts of"    \
	" phases that did not run are left out and the total is scaled to 100"
#define RATING_FORMULA "excellent >= 90, good >= 75, fair >= 50, poor below"
#define LEAK_FORMULA                                                                           \
	"least-squares slope of the tracer's RSS (VmRSS of its process group, sampled every"   \
	" 0.5 s) over the sustain phase, its first 20 % left out; no leak <= 1 MB/min,"        \
	" suspect <= 5 MB/min, leak above"
#define RECOVERY_FORMULA                                                                       \
	"from the end of the fault to the start of the first 2 consecutive 0.5 s windows in"   \
	" which the tracer runs, captures >= 99 % of the requests the target answered and"     \
	" its drop counters do not grow (resolution: one window)"

static const char *const stress_chart_names[] = { "rss.svg", "capture.svg", "throughput.svg" };
#define NCHARTS 3

static const char *target_name(enum lab_target_kind k)
{
	return k == LAB_TARGET_NGINX ? "nginx" : k == LAB_TARGET_URL ? "url" : "builtin";
}

/* --- results.json --------------------------------------------------------- */

static void json_kv(FILE *f, const char *key, double v, int prec, bool comma)
{
	fprintf(f, "\"%s\":%s%s", key, lab_json_num_or_null(v, prec), comma ? "," : "");
}

static void json_reasons(FILE *f, const struct lab_stress_reason *re, int n)
{
	fputc('{', f);
	for (int i = 0; i < n; i++) {
		lab_json_str(f, re[i].name);
		fprintf(f, ":%.0f%s", re[i].n, i + 1 < n ? "," : "");
	}
	fputc('}', f);
}

static void json_ids(FILE *f, const char *key, const uint32_t *ids, int n)
{
	fprintf(f, "\"%s\":[", key);
	for (int i = 0; i < n; i++)
		fprintf(f, "%u%s", ids[i], i + 1 < n ? "," : "");
	fputs("],", f);
}

static void json_step(FILE *f, const struct lab_stress_step *st)
{
	fputs("{\"label\":", f);
	lab_json_str(f, st->label);
	fprintf(f, ",\"phase\":\"%s\",\"fault\":", lab_stress_phase_name(st->phase));
	if (st->fault >= 0)
		fprintf(f, "\"%s\",", lab_stress_fault_name(st->fault));
	else
		fputs("null,", f);
	json_kv(f, "t_start_s", st->t_start_s, 2, true);
	json_kv(f, "t_end_s", st->t_end_s, 2, true);
	json_kv(f, "offered_rps", st->offered_rps, 1, true);
	json_kv(f, "achieved_rps", st->achieved_rps, 1, true);
	json_kv(f, "p50_ms", st->p50_ms, 3, true);
	json_kv(f, "p99_ms", st->p99_ms, 3, true);
	fprintf(f, "\"sent\":%llu,\"completed\":%llu,\"errors\":%llu,",
		(unsigned long long)st->sent, (unsigned long long)st->completed,
		(unsigned long long)st->errors);
	json_kv(f, "requests", st->requests, 0, true);
	json_kv(f, "events", st->events, 0, true);
	json_kv(f, "capture_pct", st->capture_pct, 2, true);
	json_kv(f, "partial_records", st->partial, 0, true);
	json_kv(f, "drops", st->drops, 0, true);
	json_kv(f, "tracer_cpu_pct", st->cpu_pct_mean, 2, true);
	json_kv(f, "rss_mb_max", st->rss_mb_max, 2, true);
	fprintf(f, "\"ok\":%s,\"why\":", st->ok ? "true" : "false");
	lab_json_str(f, st->why);
	fputc('}', f);
}

static void json_phase(FILE *f, const struct lab_stress_phase_result *ph)
{
	fprintf(f, "{\"ran\":%s,", ph->ran ? "true" : "false");
	json_kv(f, "offered_rps", ph->offered_rps, 1, true);
	json_kv(f, "achieved_rps", ph->achieved_rps, 1, true);
	json_kv(f, "p50_ms", ph->p50_ms, 3, true);
	json_kv(f, "p99_ms", ph->p99_ms, 3, true);
	fprintf(f, "\"sent\":%llu,\"completed\":%llu,\"errors\":%llu,",
		(unsigned long long)ph->sent, (unsigned long long)ph->completed,
		(unsigned long long)ph->errors);
	json_kv(f, "requests", ph->requests, 0, true);
	json_kv(f, "events", ph->events, 0, true);
	json_kv(f, "capture_pct", ph->capture_pct, 2, true);
	json_kv(f, "partial_records", ph->partial, 0, true);
	json_kv(f, "drops", ph->drops, 0, true);
	fputs("\"drops_by_reason\":", f);
	json_reasons(f, ph->reasons, ph->nreasons);
	fputc(',', f);
	json_kv(f, "tracer_cpu_pct_mean", ph->cpu_pct_mean, 2, true);
	json_kv(f, "tracer_cpu_pct_max", ph->cpu_pct_max, 2, true);
	json_kv(f, "rss_mb_max", ph->rss_mb_max, 2, false);
	fputc('}', f);
}

static void json_fault(FILE *f, const struct lab_stress_fault_result *fr, int fault)
{
	fprintf(f, "{\"ran\":%s,", fr->ran ? "true" : "false");
	json_kv(f, "start_s", fr->start_s, 2, true);
	json_kv(f, "end_s", fr->end_s, 2, true);
	json_kv(f, "recovery_s", fr->recovery_s, 2, true);
	json_kv(f, "requests", fr->requests, 0, true);
	json_kv(f, "events", fr->events, 0, true);
	json_kv(f, "partial_records", fr->partial, 0, true);
	json_kv(f, "drops", fr->drops, 0, true);
	fprintf(f, "\"invariant\":%s,\"check_ok\":%s,", fr->invariant ? "true" : "false",
		fr->check_ok ? "true" : "false");
	if (fault == LAB_STRESS_F_KILL) {
		json_ids(f, "killed_prog_ids", fr->prog_ids, fr->nprogs);
		json_ids(f, "killed_link_ids", fr->link_ids, fr->nlinks);
		fprintf(f, "\"progs_left\":%d,\"links_left\":%d,", fr->progs_left, fr->links_left);
		json_kv(f, "gone_s", fr->gone_s, 3, true);
	}
	if (fault == LAB_STRESS_F_MEMORY) {
		fputs("\"outcome\":", f);
		lab_json_str(f, fr->outcome);
		fputc(',', f);
		json_kv(f, "memcg_limit_mb", fr->memcg_limit_mb, 1, true);
		json_kv(f, "memcg_peak_mb", fr->memcg_peak_mb, 2, true);
		json_kv(f, "memcg_limit_hits", fr->memcg_events, 0, true);
		json_kv(f, "oom_kills", fr->oom_kills, 0, true);
		json_kv(f, "limited_capture_pct", fr->limited_capture_pct, 2, true);
	}
	fputs("\"detail\":", f);
	lab_json_str(f, fr->detail);
	fputc('}', f);
}

int lab_stress_write_json(const struct lab_stress_result *r, FILE *f)
{
	const struct lab_stress_config *cfg = r->cfg;

	fprintf(f, "{\"schema\":\"%s\",\"started\":\"%s\",", LAB_STRESS_SCHEMA, r->started);
	json_kv(f, "wall_s", r->wall_s, 1, true);
	fprintf(f, "\"quick\":%s,\"target\":\"%s\",\"tracer\":{\"name\":", cfg->quick ? "true" : "false",
		target_name(cfg->target.kind));
	lab_json_str(f, cfg->tracer.name);
	fputs(",\"command\":", f);
	lab_json_str(f, cfg->tracer.cmd);
	fputs("},\"config\":{", f);
	json_kv(f, "start_rate", cfg->start_rate, 1, true);
	json_kv(f, "target_rate", cfg->target_rate, 1, true);
	json_kv(f, "step_factor", cfg->step_factor, 2, true);
	fprintf(f, "\"conns\":%u,", cfg->conns);
	json_kv(f, "step_s", cfg->step_s, 1, true);
	json_kv(f, "sustain_s", cfg->sustain_s, 1, true);
	json_kv(f, "fault_s", cfg->fault_s, 1, true);
	json_kv(f, "observe_s", cfg->observe_s, 1, true);
	json_kv(f, "memory_s", cfg->memory_s, 1, true);
	json_kv(f, "memcg_mb", cfg->memcg_mb, 1, true);
	json_kv(f, "slo_p99_ms", cfg->slo_p99_ms, 3, false);
	fputs("},\"error\":", f);
	lab_json_str(f, r->error);
	fputs(",\"failure_point\":{", f);
	json_kv(f, "rps", r->failure_rps, 1, true);
	fputs("\"why\":", f);
	lab_json_str(f, r->failure_why);
	fputs("},", f);
	json_kv(f, "clean_rps", r->clean_rps, 1, true);
	json_kv(f, "work_rps", r->work_rps, 1, true);
	fputs("\"phases\":{", f);
	for (int p = 0; p < LAB_STRESS_PHASES; p++) {
		fprintf(f, "\"%s\":", lab_stress_phase_name(p));
		json_phase(f, &r->phases[p]);
		fputs(p + 1 < LAB_STRESS_PHASES ? "," : "},", f);
	}
	fputs("\"steps\":[", f);
	for (int i = 0; i < r->nsteps; i++) {
		json_step(f, &r->steps[i]);
		fputs(i + 1 < r->nsteps ? "," : "", f);
	}
	fputs("],\"faults\":{", f);
	for (int i = 0; i < LAB_STRESS_FAULTS; i++) {
		fprintf(f, "\"%s\":", lab_stress_fault_name(i));
		json_fault(f, &r->faults[i], i);
		fputs(i + 1 < LAB_STRESS_FAULTS ? "," : "},", f);
	}
	fputs("\"recovery_formula\":\"" RECOVERY_FORMULA "\",\"leak\":{", f);
	json_kv(f, "rss_slope_mb_per_min", r->rss_slope_mb_min, 3, true);
	fprintf(f, "\"verdict\":\"%s\",\"formula\":\"%s\"},", lab_stress_leak_name(r->leak), LEAK_FORMULA);
	fprintf(f, "\"tracer_exits\":{\"unexpected\":%d,\"first\":", r->unexpected_exits);
	lab_json_str(f, r->exit_reason);
	fputs("},", f);
	fprintf(f, "\"output\":{\"instances\":%d,\"lines\":%ld,\"bad_lines\":%ld,\"first_bad\":",
		r->instances, r->lines, r->bad_lines);
	lab_json_str(f, r->first_bad);
	fprintf(f, ",\"closing_stats_records\":%ld,\"closing_stats_unbalanced\":%ld,\"truncated_tail\":%s},",
		r->stats_records, r->stats_bad, r->truncated_tail ? "true" : "false");
	fputs("\"score\":{", f);
	json_kv(f, "total", r->score.total, 1, true);
	json_kv(f, "capture", r->score.capture, 1, true);
	json_kv(f, "recovery", r->score.recovery, 1, true);
	json_kv(f, "headroom", r->score.headroom, 1, true);
	json_kv(f, "leak", r->score.leak, 1, true);
	json_kv(f, "integrity", r->score.integrity, 1, true);
	fprintf(f, "\"formula\":\"" SCORE_FORMULA "\"},\"rating\":\"%s\",\"rating_formula\":\"" RATING_FORMULA "\",",
		lab_stress_rating_name(r->rating));
	fputs("\"checks\":[", f);
	for (int i = 0; i < LAB_THRESHOLDS_N; i++) {
		const struct lab_threshold_result *c = &r->checks[i];

		fprintf(f, "{\"key\":\"%s\",", c->key ? c->key : "");
		json_kv(f, "limit", c->limit, 2, true);
		json_kv(f, "observed", c->observed, 2, true);
		fprintf(f, "\"status\":\"%s\",\"detail\":", lab_check_name(c->status));
		lab_json_str(f, c->detail);
		fputs(i + 1 < LAB_THRESHOLDS_N ? "}," : "}", f);
	}
	fprintf(f, "],\"checks_failed\":%d,\"hard_failures\":%d,", r->checks_failed, r->hard_failures);
	json_kv(f, "min_score", cfg->min_score, 1, true);
	fputs("\"samples\":[", f);
	for (int i = 0; i < r->nsamples; i++) {
		const struct lab_stress_sample *s = &r->samples[i];

		fputc('{', f);
		json_kv(f, "t_s", s->t_s, 2, true);
		fprintf(f, "\"phase\":\"%s\",", lab_stress_phase_name(s->phase));
		json_kv(f, "requests", s->requests, 0, true);
		json_kv(f, "events", s->events, 0, true);
		json_kv(f, "events_by_time", s->events_by_time, 0, true);
		json_kv(f, "drops", s->drops, 0, true);
		json_kv(f, "rss_mb", s->rss_mb, 2, true);
		json_kv(f, "cpu_pct", s->cpu_pct, 1, true);
		fprintf(f, "\"tracer_up\":%s}%s", s->tracer_up ? "true" : "false",
			i + 1 < r->nsamples ? "," : "");
	}
	fputs("]}\n", f);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

/* --- summary.txt ---------------------------------------------------------- */

static const char *recovery_text(const struct lab_stress_fault_result *fr)
{
	static char buf[64];

	if (isnan(fr->recovery_s))
		return "not recovered";
	snprintf(buf, sizeof(buf), "%.1f s", fr->recovery_s);
	return buf;
}

void lab_stress_write_summary(const struct lab_stress_result *r, FILE *f)
{
	const struct lab_stress_config *cfg = r->cfg;

	fprintf(f, "sonde stress: %s on %s, %.0f s%s\n", cfg->tracer.name, target_name(cfg->target.kind),
		r->wall_s, cfg->quick ? " (quick)" : "");
	if (r->error[0])
		fprintf(f, "  stopped early: %s\n", r->error);
	fprintf(f, "  resilience score %s / 100, stability %s\n", lab_fmt_num(r->score.total, 0),
		lab_stress_rating_name(r->rating));
	if (r->phases[LAB_STRESS_RAMP_UP].ran) {
		if (isnan(r->failure_rps))
			fprintf(f, "  failure point: none up to %.0f req/s\n", cfg->target_rate);
		else
			fprintf(f, "  failure point: %.0f req/s (%s); clean up to %s req/s\n",
				r->failure_rps, r->failure_why, lab_fmt_num(r->clean_rps, 0));
	}
	fprintf(f, "\n  %-10s %9s %9s %8s %8s %8s %8s %8s %7s %7s\n", "phase", "offered/s", "achieved",
		"p50 ms", "p99 ms", "errors", "capture%", "drops", "cpu%", "RSS MB");
	for (int p = 0; p < LAB_STRESS_PHASES; p++) {
		const struct lab_stress_phase_result *ph = &r->phases[p];

		if (!ph->ran)
			continue;
		fprintf(f, "  %-10s %9s %9s %8s %8s %8llu %8s %8s %7s %7s\n", lab_stress_phase_name(p),
			lab_fmt_num(ph->offered_rps, 0), lab_fmt_num(ph->achieved_rps, 0),
			lab_fmt_num(ph->p50_ms, 2), lab_fmt_num(ph->p99_ms, 2),
			(unsigned long long)ph->errors, lab_fmt_num(ph->capture_pct, 2),
			lab_fmt_num(ph->drops, 0), lab_fmt_num(ph->cpu_pct_mean, 1),
			lab_fmt_num(ph->rss_mb_max, 1));
	}
	fputc('\n', f);
	for (int i = 0; i < LAB_STRESS_FAULTS; i++) {
		const struct lab_stress_fault_result *fr = &r->faults[i];

		if (!fr->ran)
			continue;
		fprintf(f, "  fault %-8s recovery %-14s drops %-7s partial %-6s %s%s\n",
			lab_stress_fault_name(i), recovery_text(fr), lab_fmt_num(fr->drops, 0),
			lab_fmt_num(fr->partial, 0),
			fr->check_ok && fr->invariant ? "ok" : "FAILED",
			fr->invariant ? "" : " (stats record does not balance)");
	}
	fprintf(f, "  leak check: RSS slope %s MB/min during sustain: %s\n",
		lab_fmt_num(r->rss_slope_mb_min, 2), lab_stress_leak_name(r->leak));
	if (r->unexpected_exits)
		fprintf(f, "  the tracer exited on its own %d times; first %s\n", r->unexpected_exits,
			r->exit_reason);
	fprintf(f, "  output: %ld lines, %ld unparsable, %ld closing stats records, %ld unbalanced\n",
		r->lines, r->bad_lines, r->stats_records, r->stats_bad);
	for (int i = 0; i < LAB_THRESHOLDS_N; i++)
		if (r->checks[i].status == LAB_CHECK_PASS || r->checks[i].status == LAB_CHECK_FAIL)
			fprintf(f, "  check %-15s %s: %s\n", r->checks[i].key,
				lab_check_name(r->checks[i].status), r->checks[i].detail);
	if (!isnan(cfg->min_score))
		fprintf(f, "  check min_score      %s: %.0f against %.0f\n",
			r->score.total >= cfg->min_score ? "pass" : "fail", r->score.total, cfg->min_score);
}

/* --- report.md ------------------------------------------------------------ */

static void write_report_md(const struct lab_stress_result *r, FILE *f)
{
	const struct lab_stress_config *cfg = r->cfg;

	fprintf(f, "# sonde stress: %s on %s\n\nStarted %s, %.0f s%s.\n\n", cfg->tracer.name,
		target_name(cfg->target.kind), r->started, r->wall_s, cfg->quick ? " (--quick)" : "");
	fputs("```\n", f);
	lab_stress_write_summary(r, f);
	fputs("```\n\n## Steps\n\n| step | phase | offered/s | achieved/s | p50 ms | p99 ms | errors | requests | events | capture % | partial records | drops | tracer CPU % | RSS MB | verdict |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
	      f);
	for (int i = 0; i < r->nsteps; i++) {
		const struct lab_stress_step *st = &r->steps[i];

		fprintf(f, "| %s | %s | %s | %s | %s | %s | %llu | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			st->label, lab_stress_phase_name(st->phase), lab_fmt_num(st->offered_rps, 0),
			lab_fmt_num(st->achieved_rps, 0), lab_fmt_num(st->p50_ms, 2),
			lab_fmt_num(st->p99_ms, 2), (unsigned long long)st->errors,
			lab_fmt_num(st->requests, 0), lab_fmt_num(st->events, 0),
			lab_fmt_num(st->capture_pct, 2), lab_fmt_num(st->partial, 0),
			lab_fmt_num(st->drops, 0), lab_fmt_num(st->cpu_pct_mean, 1),
			lab_fmt_num(st->rss_mb_max, 1), st->ok ? "ok" : st->why);
	}
	fputs("\n## Drops per reason\n\n| phase | reasons |\n|---|---|\n", f);
	for (int p = 0; p < LAB_STRESS_PHASES; p++) {
		const struct lab_stress_phase_result *ph = &r->phases[p];
		int shown = 0;

		if (!ph->ran)
			continue;
		fprintf(f, "| %s | ", lab_stress_phase_name(p));
		for (int i = 0; i < ph->nreasons; i++)
			if (ph->reasons[i].n > 0)
				fprintf(f, "%s%s %.0f", shown++ ? ", " : "", ph->reasons[i].name,
					ph->reasons[i].n);
		fputs(shown ? " |\n" : "none |\n", f);
	}
	fputs("\nEvents are complete 2xx records of the target's requests; partial records are records of the target's port delivered incomplete or without a status (a head beyond the capture size in a pipelined burst, a parse error): seen, not lost, but not a capture.\n", f);
	fputs("\n## Faults\n\nRecovery: " RECOVERY_FORMULA ".\n\n| fault | recovery | requests | events | partial records | drops | closing stats balance | check | detail |\n|---|---|---|---|---|---|---|---|---|\n",
	      f);
	for (int i = 0; i < LAB_STRESS_FAULTS; i++) {
		const struct lab_stress_fault_result *fr = &r->faults[i];

		if (!fr->ran)
			continue;
		fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s%s%s |\n", lab_stress_fault_name(i),
			recovery_text(fr), lab_fmt_num(fr->requests, 0), lab_fmt_num(fr->events, 0),
			lab_fmt_num(fr->partial, 0), lab_fmt_num(fr->drops, 0), fr->invariant ? "yes" : "NO",
			fr->check_ok ? "ok" : "FAILED", fr->outcome[0] ? fr->outcome : "",
			fr->outcome[0] ? ": " : "", fr->detail);
	}
	fprintf(f, "\n## Leak check\n\nRSS slope during sustain: %s MB/min, verdict **%s**. Method: %s.\n",
		lab_fmt_num(r->rss_slope_mb_min, 3), lab_stress_leak_name(r->leak), LEAK_FORMULA);
	fprintf(f, "\n## Output integrity\n\n%d tracer instances wrote %ld lines; %ld did not parse%s%s%s; %ld closing stats records, %ld of which did not satisfy produced == delivered + filtered + Σ dropped.%s\n",
		r->instances, r->lines, r->bad_lines, r->first_bad[0] ? " (first: `" : "", r->first_bad,
		r->first_bad[0] ? "`)" : "", r->stats_records, r->stats_bad,
		r->truncated_tail ? " A killed instance's last line was cut by the kill (not counted as corrupt)." : "");
	fprintf(f, "\n## Score and rating\n\nScore %s = capture %s + recovery %s + headroom %s + leak %s + integrity %s (scaled to the parts that ran).\n\nFormula: " SCORE_FORMULA ".\n\nRating: " RATING_FORMULA ": **%s**.\n",
		lab_fmt_num(r->score.total, 1), lab_fmt_num(r->score.capture, 1),
		lab_fmt_num(r->score.recovery, 1), lab_fmt_num(r->score.headroom, 1),
		lab_fmt_num(r->score.leak, 1), lab_fmt_num(r->score.integrity, 1),
		lab_stress_rating_name(r->rating));
	fputs("\n## Checks\n\n| limit | value | observed | status | detail |\n|---|---|---|---|---|\n", f);
	for (int i = 0; i < LAB_THRESHOLDS_N; i++)
		fprintf(f, "| %s | %s | %s | %s | %s |\n", r->checks[i].key,
			lab_fmt_num(r->checks[i].limit, 2), lab_fmt_num(r->checks[i].observed, 2),
			lab_check_name(r->checks[i].status), r->checks[i].detail);
	fprintf(f, "\nFault checks and output integrity failing: %d.\n\n## Charts\n\n", r->hard_failures);
	for (int i = 0; i < NCHARTS; i++)
		fprintf(f, "![%s](%s)\n\n", stress_chart_names[i], stress_chart_names[i]);
}

/* --- charts --------------------------------------------------------------- */

static int write_chart(const struct lab_stress_result *r, FILE *f, int which)
{
	int n = r->nsamples > 1 ? r->nsamples - 1 : 0, ret;
	double *x = calloc((size_t)n + 1, sizeof(double)), *y1 = calloc((size_t)n + 1, sizeof(double));
	double *y2 = calloc((size_t)n + 1, sizeof(double)), *y3 = calloc((size_t)n + 1, sizeof(double));
	struct lab_svg_series s[3];

	if (!x || !y1 || !y2 || !y3) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const struct lab_stress_sample *a = &r->samples[i], *b = &r->samples[i + 1];
		double dt = b->t_s - a->t_s, req = b->requests - a->requests, ev = b->events_by_time - a->events_by_time;

		x[i] = b->t_s;
		y1[i] = b->rss_mb;
		y2[i] = req > 0 ? ev / req * 100.0 : NAN;
		y3[i] = dt > 0 ? (b->drops - a->drops) / dt : NAN;
		if (which == 2) {
			y1[i] = dt > 0 ? req / dt : NAN;
			y2[i] = dt > 0 ? ev / dt : NAN;
		}
	}
	switch (which) {
	case 0:
		s[0] = (struct lab_svg_series){ "tracer RSS", x, y1, n };
		ret = lab_svg_line_chart(f, "Tracer RSS over time", "seconds", "MB", s, 1, false);
		break;
	case 1:
		s[0] = (struct lab_svg_series){ "capture % (0.5 s windows)", x, y2, n };
		ret = lab_svg_line_chart(f, "Capture over time (events / requests answered)", "seconds",
					 "%", s, 1, false);
		break;
	default:
		s[0] = (struct lab_svg_series){ "requests answered/s", x, y1, n };
		s[1] = (struct lab_svg_series){ "events captured/s", x, y2, n };
		s[2] = (struct lab_svg_series){ "drops/s", x, y3, n };
		ret = lab_svg_line_chart(f, "Throughput, capture and drops over time", "seconds",
					 "per second", s, 3, false);
		break;
	}
out:
	free(x);
	free(y1);
	free(y2);
	free(y3);
	return ret;
}

struct out_ctx {
	const struct lab_stress_result *r;
	int kind; /* -1 results.json, -2 summary.txt, -3 report.md, >= 0 a chart */
};

static int write_out(FILE *f, const void *arg)
{
	const struct out_ctx *c = arg;

	switch (c->kind) {
	case -1:
		return lab_stress_write_json(c->r, f);
	case -2:
		lab_stress_write_summary(c->r, f);
		return 0;
	case -3:
		write_report_md(c->r, f);
		return 0;
	default:
		return write_chart(c->r, f, c->kind);
	}
}

static int write_file(const struct lab_stress_result *r, const char *name, int kind, char *err,
		      size_t len)
{
	struct out_ctx c = { r, kind };

	return lab_write_file(r->cfg->out_dir, name, write_out, &c, err, len);
}

int lab_stress_write_all(const struct lab_stress_result *r, char *err, size_t len)
{
	int ret;

	if (!r || !r->cfg || !r->cfg->out_dir[0]) {
		lab_set_err(err, len, "stress report: no results directory");
		return -EINVAL;
	}
	ret = write_file(r, "results.json", -1, err, len);
	if (!ret)
		ret = write_file(r, "summary.txt", -2, err, len);
	if (!ret)
		ret = write_file(r, "report.md", -3, err, len);
	for (int i = 0; i < NCHARTS && !ret; i++)
		ret = write_file(r, stress_chart_names[i], i, err, len);
	return ret;
}

int lab_stress_exit_code(const struct lab_stress_result *r)
{
	if (r->checks_failed > 0 || r->hard_failures > 0)
		return 1;
	if (!isnan(r->cfg->min_score) && r->score.total < r->cfg->min_score)
		return 1;
	return 0;
}
