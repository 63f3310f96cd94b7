#!/usr/bin/env bash
# The decoder study of docs/results.md ("Decoders on the SFT loss") on one prompt task
# (sst2-prompt, rte-prompt or qnli-prompt: the three the model learns at this budget): first the
# five methods under hold-out selection over one lr grid (full fine-tuning its own), then every
# open hypothesis of the method as variants of TASO. Every finished run is recorded under benches/results, so the study continues where it
# stopped, on any checkout; `--report-only` as an extra argument remakes the tables from the
# record without training. Tables: runs/TASK/compare/decoder-*.md.
#
# Usage: benches/decoder_study.sh TASK [methods|leading|default|ablations|all] [extra taso-compare arguments],
#    or benches/decoder_study.sh all verdicts (the defaults the ablations decide, across the tasks)
#    or benches/decoder_study.sh all glance (the methods of every task as one chart)
#    or benches/decoder_study.sh all status (the runs each step still lacks)
#   (from the project root, after `just build`; about 10 minutes of 2 cores per run). TASK `all`
#   carries the whole study in one command (PART `methods` or `ablations` keeps to that part)
#   and continues it after an interruption, in this order: the methods on SST-2 and RTE, then
#   SST-2's ablations (the task the model learns most clearly, so its ablations say the most per
#   hour), then QNLI's methods, then on RTE and QNLI the variants ahead of TASO on SST-2 (PART
#   `leading`: a variant ahead there becomes the default with one more task, so these decide the
#   defaults soonest), then on each task TASO with the defaults so decided under the methods'
#   hold-out selection (PART `default`), then those settings back on the encoder tasks
#   (benches/encoder_recheck.sh), then the rest of RTE's ablations, then on QNLI the variants
#   ahead on RTE (`leading` again), then the rest of QNLI's.
set -euo pipefail
task=${1:?usage: benches/decoder_study.sh TASK|all [methods|ablations|all] [taso-compare args]}
part=${2:-all}
# The study's prompt tasks, in the order its tables and charts list them.
study_tasks=(sst2-prompt rte-prompt qnli-prompt)
shift $(($# < 2 ? $# : 2))
# The rows of the "Against REFERENCE, seed by seed" part of the comparison tables FILE...: the
# variant, the seeds paired, the difference of the eval figure, the verdict and REFERENCE,
# tab-separated.
against_rows() {
  awk -v OFS='\t' '
    /^Against [^,]*, seed by seed/ { on = 1; rows = 0; ref = $2; sub(/,$/, "", ref); next }
    on && rows && !/^\|/ { on = 0 }
    on && /^\|/ { rows = 1 }
    on && /^\| [a-z]/ && !/^\| method/ { split($0, c, / *\| */); print c[2], c[3], c[4], c[6], ref }' "$@"
}

# `all verdicts`: the rule of docs/results.md ("The study") applied across the tasks. Each
# variant's verdict against TASO on each task (the "Against taso" part of that task's ablation
# tables, so run them or their `--report-only` first) and whether it is the default: yes where it
# is ahead on at least two of the three tasks with 3 seeds each, no where it can no longer be,
# open otherwise. Table: runs/decoder-verdicts.md.
verdicts() {
  local tasks=("${study_tasks[@]}") out=runs/decoder-verdicts.md tables=() t f
  for t in "${tasks[@]}"; do
    for f in runs/"$t"/compare/decoder-{ablations,shapes,init-gamma}.md; do
      [[ -f $f ]] && tables+=("$f")
    done
  done
  {
    echo "# Decoder study: each variant against TASO, task by task"
    echo
    echo "From \`runs/TASK/compare/decoder-{ablations,shapes,init-gamma}.md\` (\"Against ...\": the"
    echo "mean per-seed difference of the \`taso-eval\` score ± its standard error, and the seeds"
    echo "paired): each variant against TASO, the one-axis shapes against rows and columns at the"
    echo "same budget (block-b8). A variant becomes the default where it is ahead on at least two of"
    echo "the three tasks."
    echo
    for f in "${tables[@]}"; do
      t=${f#runs/}
      against_rows "$f" | sed "s|^|${t%%/*}\t|"
    done | awk -F'\t' -v tasks="${tasks[*]}" '
      BEGIN { n = split(tasks, t, " ") }
      {
        task = $1; v = $2
        if (!(v in seen)) { seen[v] = 1; order[++m] = v }
        vs = $6 == "taso" ? "" : ", against " $6
        cell[v, task] = $5 " (" $4 ", " $3 " seeds" vs ")"
        if ($3 >= 3) { final[v]++; if ($5 == "ahead") ahead[v]++ }
      }
      END {
        printf "| variant |"; for (i = 1; i <= n; i++) printf " %s |", t[i]; print " ahead on | default |"
        printf "|---|"; for (i = 1; i <= n; i++) printf "---|"; print "---|---|"
        for (j = 1; j <= m; j++) {
          v = order[j]; printf "| %s |", v
          for (i = 1; i <= n; i++) printf " %s |", ((v, t[i]) in cell ? cell[v, t[i]] : "not run")
          decided = ahead[v] >= 2 ? "yes" : (ahead[v] + n - final[v] < 2 ? "no" : "open")
          printf " %d of %d | %s |\n", ahead[v], n, decided
        }
      }'
  } > "$out.tmp"
  mv "$out.tmp" "$out"
  cat "$out"
}

# `all glance`: the complete methods tables' summaries (`decoder-methods.json` beside each table,
# so run them or their `--report-only` first) as one chart, docs/charts/decoder-methods.png; and
# likewise the `default` tables' (TASO on the default loss beside the paper's and LoRA r=1),
# docs/charts/decoder-default.png.
glance() {
  local table summaries t
  for table in methods default; do
    summaries=()
    for t in "${study_tasks[@]}"; do
      if [[ ! -f runs/$t/compare/decoder-$table.json ]] ||
        grep -q '^Not finished yet' "runs/$t/compare/decoder-$table.md"; then
        echo "$t: its $table table is not complete; left out"
      else
        summaries+=("runs/$t/compare/decoder-$table.json")
      fi
    done
    [[ ${#summaries[@]} -gt 0 ]] || continue
    local trained="on the SFT loss"
    [[ $table == methods ]] || trained="TASO scoring the choice loss (the default) or the SFT loss"
    target/release/taso-compare glance "${summaries[@]}" --out "docs/charts/decoder-$table.png" \
      --title "SmolLM2-135M-Instruct $trained: taso-eval accuracy on dev, mean ± std over 3 seeds"
  done
}

# One step of `all`, TASK:PART, with extra taso-compare arguments.
run_step() {
  local step=$1
  shift
  if [[ $step == encoder:recheck ]]; then
    "$(dirname "$0")/encoder_recheck.sh" all "$@"
  else
    "$0" "${step%:*}" "${step#*:}" "$@"
  fi
}

if [[ $task == all ]]; then
  [[ $part == verdicts ]] && { verdicts; exit 0; }
  [[ $part == glance ]] && { glance; exit 0; }
  # `encoder:recheck` is item 4 of the study, benches/encoder_recheck.sh: the settings ahead on
  # the decoder back on the encoder tasks, once the leading variants have had their second task.
  steps=(sst2-prompt:methods rte-prompt:methods sst2-prompt:ablations qnli-prompt:methods
    rte-prompt:leading qnli-prompt:leading sst2-prompt:default rte-prompt:default
    qnli-prompt:default encoder:recheck rte-prompt:ablations qnli-prompt:leading
    qnli-prompt:ablations)
  # `all status`: the runs each step still lacks in the record (its tables remade on the way).
  # A lower bound until a table's sweep is complete: the seeds after the sweep run at the lr it
  # chooses, and they are counted once it has chosen.
  if [[ $part == status ]]; then
    for step in "${steps[@]}"; do
      out=$(run_step "$step" --report-only 2>&1) || true
      if [[ $out == *"run the methods part first"* ]]; then
        echo "${step%:*} ${step#*:}: waits on its methods table"
        continue
      fi
      missing=$(sed -n 's/^Not finished yet (\([0-9]*\);.*/\1/p' <<<"$out" | awk '{ n += $1 } END { print n + 0 }')
      echo "${step%:*} ${step#*:}: at least $missing runs missing"
    done
    exit 0
  fi
  for step in "${steps[@]}"; do
    [[ $part == all || $part == "${step#*:}" || ($part == ablations && ${step#*:} == leading) ]] ||
      continue
    run_step "$step" "$@"
  done
  exit 0
fi
# A checkpoint every 16 steps (a setting that does not make another run) lets a run cut off by
# the end of a session continue from it when the study is started again. The study's TASO scores
# the paper's loss, `score.loss = "answer"` (the variant taso-choice the choice loss): the
# hypotheses were set against it, and it was the default when the study began (the runs recorded
# before the default became `auto` carry it too).
compare() {
  target/release/taso-compare --config "configs/$task.toml" --seeds 3 --sweep-seeds 1 --jobs 2 \
    --record benches/results --plot --set train.checkpoint_every=16 --set score.loss=answer "$@"
}
grid=5e-4,1e-3,2e-3

methods() {
  compare --tag decoder --out decoder-methods.md --zero-shot --lrs "$grid" --method-lrs full=2e-5,5e-5 \
    --methods taso,lora-r1,lora-r8,random-regions,full "$@"
}

# TASO's lr as chosen in the methods table: the variants that do not move the adapter's lr run
# at it, so that only the hypothesis changes.
taso_lr() {
  local table="runs/$task/compare/decoder-methods.md"
  awk -F' *[|] *' '$2 == "taso" { print $3; exit }' "$table" 2>/dev/null | grep . ||
    { echo "run the methods part first: no TASO row in $table" >&2; exit 2; }
}

# `default`: TASO on the loss the study made the default (`score.loss = "auto"`, here the choice
# loss) under the methods table's hold-out selection over the same lr grid, with TASO on the
# paper's loss and dense LoRA r=1 of the same size set against it seed by seed (their runs, and
# the choice loss's at TASO's lr, are those of the methods and ablation tables).
default_table() {
  compare --tag decoder --out decoder-default.md --lrs "$grid" --methods taso-choice,taso,lora-r1 \
    --variant 'taso-choice=run.method=taso;score.loss=choice' "$@"
}

# The TASO variants of the ablation table, each against TASO at the rank-1 budget.
ablation_variants=taso-choice,taso-rms,taso-grad,taso-r2,taso-r4,taso-cal64,taso-cal1024
# The one-axis shapes of the shape table, each against rows and columns (block-b8) at the rank-8
# budget.
shape_variants=rows-b8,columns-b8
# A's initialisation crossed with gamma, each against TASO at its own lr.
init_gamma_variants=taso-kept-g0,taso-kept-g1,taso-input-g0,taso-input-g05,taso-input-g1

# The variants ahead of their table's first method ("Against ...") in the table `$1` (a file name
# under runs/TASK/compare/) of any other task whose table exists, comma-separated, each once.
ahead_elsewhere() {
  local tables=() t
  for t in "${study_tasks[@]}"; do
    if [[ $t != "$task" && -f runs/$t/compare/$1 ]]; then tables+=("runs/$t/compare/$1"); fi
  done
  [[ ${#tables[@]} -gt 0 ]] || return 0
  against_rows "${tables[@]}" | awk -F'\t' '$4 == "ahead" && !seen[$1]++ { print $1 }' | paste -sd, -
}

ablations() {
  ablation_table "$ablation_variants" "$@"
  shape_table "$shape_variants" "$@"
  init_gamma_table "$init_gamma_variants" "$@"
}

# `leading`: the runs of the variants ahead on another task (SST-2 first; for QNLI, RTE's too once
# its ablations have run), in their tables (the whole tables follow in `ablations`, which reuses
# them): with one more task ahead such a variant becomes the default.
leading() {
  local ahead shapes init
  ahead=$(ahead_elsewhere decoder-ablations.md)
  shapes=$(ahead_elsewhere decoder-shapes.md)
  init=$(ahead_elsewhere decoder-init-gamma.md)
  [[ -n $ahead$shapes$init ]] || { echo "no variant is ahead on another task"; return 0; }
  [[ -z $ahead ]] || ablation_table "$ahead" "$@"
  [[ -z $shapes ]] || shape_table "$shapes" "$@"
  [[ -z $init ]] || init_gamma_table "$init" "$@"
}

# The ablation table: TASO and the variants `$1` (comma-separated) at TASO's lr, 3 seeds each.
# The loss scored (the choice among the candidates alone, without learning the answer's form:
# results.md, "Where the SFT loss's importance goes"), the input features' loudness divided out
# (results.md, "The same channels in every layer") and the score signal; the rank inside the
# rank-1 budget; the calibration size.
ablation_table() {
  local lr variants=$1
  shift
  lr=$(taso_lr)
  compare --tag decoder --out decoder-ablations.md --lrs "$lr" --methods "taso,$variants" \
    --variant 'taso-choice=run.method=taso;score.loss=choice' \
    --variant 'taso-rms=run.method=taso;score.input_norm=rms' \
    --variant 'taso-grad=run.method=taso;score.signal=grad' \
    --variant 'taso-r2=run.method=taso;regions.rank=2' \
    --variant 'taso-r4=run.method=taso;regions.rank=4' \
    --variant 'taso-cal64=run.method=taso;score.batches=8' \
    --variant 'taso-cal1024=run.method=taso;score.batches=128' \
    "$@"
}

# The block shape at one budget, at TASO's lr, 3 seeds each: rows and columns (TASO's) against
# the one-axis shapes `$1`. Under the rank-1 budget a one-axis region only fits at rank 1, where
# it is the whole matrix (dense LoRA r=1), so the shapes meet at the rank-8 budget, rank 12.
shape_table() {
  local lr variants=$1
  shift
  lr=$(taso_lr)
  compare --tag decoder --out decoder-shapes.md --lrs "$lr" --methods "block-b8,$variants" \
    --variant 'block-b8=run.method=taso;regions.budget=lora-r8;regions.rank=12' \
    --variant 'rows-b8=run.method=taso;regions.budget=lora-r8;regions.rank=12;regions.shape=rows' \
    --variant 'columns-b8=run.method=taso;regions.budget=lora-r8;regions.rank=12;regions.shape=columns' \
    "$@"
}

# TASO and the variants `$1` of A's initialisation (fan-in |C| or d_in) crossed with the lr scaling
# exponent gamma: both move the adapter's effective step size, so each has its own lr from the grid.
init_gamma_table() {
  local variants=$1
  shift
  compare --tag decoder --out decoder-init-gamma.md --lrs "$grid" --methods "taso,$variants" \
    --variant 'taso-kept-g0=run.method=taso;train.gamma=0' \
    --variant 'taso-kept-g1=run.method=taso;train.gamma=1' \
    --variant 'taso-input-g0=run.method=taso;lora.init_fan_in=input;train.gamma=0' \
    --variant 'taso-input-g05=run.method=taso;lora.init_fan_in=input;train.gamma=0.5' \
    --variant 'taso-input-g1=run.method=taso;lora.init_fan_in=input;train.gamma=1' "$@"
}

case $part in
  methods) methods "$@" ;;
  leading) leading "$@" ;;
  default) default_table "$@" ;;
  ablations) ablations "$@" ;;
  all) methods "$@" && default_table "$@" && ablations "$@" ;;
  *) echo "unknown part '$part': methods, leading, default, ablations or all" >&2; exit 2 ;;
esac
