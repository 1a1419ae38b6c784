#!/usr/bin/env bash
# Writes a seeded random GUI script ("monkey") to stdout: every script verb (lessons and keys too), with extreme values,
# broken model paths, clicks and drags anywhere, window resizes, until about FRAMES frames are drawn.
# Usage: make_monkey.sh SEED FRAMES > monkey.txt ; same seed, same script (with the same bash).
# It only writes the script; run it with: xvfb-run -a -s "-screen 0 1600x1000x24" kvlab --script monkey.txt
set -eu
seed="${1:?usage: make_monkey.sh SEED FRAMES}"
budget="${2:?usage: make_monkey.sh SEED FRAMES}"
RANDOM="$seed"
pick() { local a=("$@"); echo "${a[RANDOM % ${#a[@]}]}"; }
num() { echo $(( $1 + RANDOM % ($2 - $1 + 1) )); }

echo "# monkey: seed $seed, about $budget frames (tests/gui/make_monkey.sh)"
frames=0
w=1600 h=1000  # current window size: clicks and drags land inside it (mostly)
while [ "$frames" -lt "$budget" ]; do
  cost=3  # every action: itself + the two frames the runner waits before the next one
  case $(( RANDOM % 30 )) in
    0|1) echo "step $(pick 1 1 2 5 20)" ;;
    2) echo "layer $(pick 1 2 3 7)" ;;
    3) echo "cache $(pick on off)" ;;
    4) n=$(num 1 40); echo "play"; echo "frames $n"; echo "pause"; cost=$(( n + 7 )) ;;
    5) echo "speed $(pick 0.1 1 4 60 1000)" ;;
    6) echo "reset" ;;
    7) echo "tokens $(pick 1 2 64 255 256 1000 100000)" ;;
    8) # shapes at the edges: one of everything, heads not dividing the width, long contexts, many
       # layers, and sizes the memory check must refuse before allocating
       echo "random $(pick '1 1 1 1' '1 1 2 2' '2 2 8 8' '1 3 8 8' '4 4 128 256' '1 1 8 4096' '256 1 8 8' \
                           '2 2 16 1' '1 1 65536 8' '48 25 1600 65536' '65536 65536 65536 65536')" ;;
    9) echo "model $(pick default random:tinygpt random:tinygpt:seed=7 /nonexistent/model /etc /etc/hostname \
                          random:nope random:gpt3-175b random:tinygpt:seed=abc)" ;;
    10) echo "panel $(pick controls tokens grid counter plots memory attention sweep policy) $(pick on off on)" ;;
    11) echo "tab $(pick plots attention memory sweep policy)" ;;
    12) echo "projector $(pick on off off)" ;;
    13) echo "scale $(pick 1.0 1.3 2.5)" ;;  # the slider's extremes (the parser refuses values outside 1.0-2.5)
    14) echo "grid $(pick heads layers 'whole on' 'whole off' fit)" ;;
    15) echo "sweep $(pick 10,25,50 1 1,2,3 5,5,5 30)" ;;
    16) echo "memory $(pick tinygpt gpt2 gpt2-xl gpt3-175b nope)" ;;
    17) echo "attention $(pick all 0 1 3 99 -5)" ;;
    18) echo "hover $(pick "$(num 0 $w) $(num 0 $h)" "0 0" "100000 100000")" ;;
    19|20) echo "click $(num 0 "$w") $(num 0 "$h")" ;;
    21) echo "press $(num 0 "$w") $(num 0 "$h")"; echo "hover $(num 0 "$w") $(num 0 "$h")"; echo "release"; cost=9 ;;
    22) size=$(pick '1600 1000' '1600 1000' '800 600' '320 240' '1 1' '4000 3000' '200 1000'); echo "resize $size"
        read -r w h <<<"$size" ;;
    23) echo "sampling $(pick greedy greedy 0.01 0.8 100)" ;;
    24) echo "prompt $(pick 'The cache' 'x' 'café au lait' "$(printf 'long %.0s' $(seq 60))" 'a	tab' 'KV')" ;;
    25) n=$(num 1 60); echo "frames $n"; cost=$(( n + 3 )) ;;
    26) echo "$(pick 'lesson kv-cache' next next back reveal 'answer 0' 'answer -5' 'answer 1e30' 'answer 20100')" ;;
    27) echo "key $(pick pagedown pagedown pageup f5 shift+f5 escape b period right left space c p v l)" ;;
    28) # cache policies, some too big for the model or not for GPT-2, and KIVI formats that cannot evict
        echo "$(pick 'policy window:8' 'policy sinks:4,16' 'policy h2o:4,16' 'policy shift:4' 'policy error' \
                     'policy window:100000' 'policy sinks:1,2' 'format int8-kivi' 'format f32' 'tab policy' 'panel policy off')" ;;
    29) # the batch lab (memory map tab): tiny pools that fill, indices that do not exist, layout switches that replay
        echo "$(pick 'tab memmap' 'batch add' 'batch add Once upon a time' 'batch fork 3' 'batch fork 63' 'batch step 5' \
                     'batch finish 0' 'batch finish 63' 'batch turn 0 and then' 'batch select 2' 'batch reset paged 8 2' \
                     'batch reset contiguous' 'batch layout paged' 'batch blocksize 32' 'batch play' 'batch pause' 'panel memmap off')" ;;
  esac
  frames=$(( frames + cost ))
done
echo "resize 1600 1000"
echo "model default"
echo "step 3"
