# bash completion for kith(1)                                   -*- shell-script -*-
#
# Installed as share/bash-completion/completions/kith (bash-completion loads it the
# first time kith is completed); or source it from ~/.bashrc. Self-contained: it
# does not need bash-completion's helpers.
#
# Completes commands, subcommands, the options of each, the values of --format,
# referral statuses, files and folders where a command takes one, and contact ids
# (asked of 'kith --json contact list' on the same --home, when a store is there).

# The contact ids of the home the command line names, one a line.
_kith_contact_ids()
{
  local -a home=()
  [[ -n $_kith_home ]] && home=(--home "$_kith_home")
  # Only the first "id" of each contact (its notes carry ids too) matters, and
  # ids are 32 hex digits: grep keeps any 32-digit id, which is all kith prints.
  "${_kith_bin:-kith}" "${home[@]}" --json contact list 2>/dev/null |
    grep -o '"id": *"[0-9a-f]\{32\}"' | grep -o '[0-9a-f]\{32\}'
}

_kith()
{
  local cur=${COMP_WORDS[COMP_CWORD]}
  local prev=${COMP_WORDS[COMP_CWORD - 1]}
  local _kith_home="" _kith_bin=${COMP_WORDS[0]}
  local cmd="" sub="" i w nargs=0
  COMPREPLY=()

  # Which command and subcommand, skipping the global options before them, and
  # how many plain arguments follow them (to know when an ID is wanted).
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if [[ -z $cmd ]]; then
      case $w in
        --home)
          # "--home=DIR" arrives as three words: bash breaks words at '='
          [[ ${COMP_WORDS[i + 1]} == = ]] && ((i++))
          _kith_home=${COMP_WORDS[i + 1]}
          ((i++))
          ;;
        -*) ;;
        *) cmd=$w ;;
      esac
      continue
    fi
    case $w in
      -o | --output | --format | --name | --device | --email | --phone | --org | \
        --title | --tag | --met-at | --link | --nickname | --birthday | --needs | \
        --offers | --note | --search | --date | --within | --expires | --listen | \
        --relay | --addr | --wait | --with | --contact | --to | --reason | \
        --value | --peer | --message | -m | --share | --for | --data | \
        --max-envelope | --box-quota | --box-count | --owner-quota | --ttl | \
        --max-conns | --per-address | --rate)
        ((i++)) ;; # the option's value
      -*) ;;
      *)
        if [[ -z $sub ]] && [[ " card contact note peer device referral relay bundle intro tag " == *" $cmd "* ]]; then
          sub=$w
        else
          ((nargs++))
        fi
        ;;
    esac
  done
  [[ $_kith_bin == */* || $_kith_bin == kith ]] || _kith_bin=kith
  # shellcheck disable=SC2088 # a "~/" typed on the line: expanded here
  [[ $_kith_home == "~/"* ]] && _kith_home=$HOME/${_kith_home#"~/"}

  # Values of the option just typed.
  case $prev in
    --home | --data)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      return
      ;;
    -o | --output)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return
      ;;
    =)
      return # FIELD=VALUE: the value is the user's own
      ;;
    --format)
      case $cmd in
        import) w="vcard csv google outlook linkedin json" ;;
        export) w="vcard csv json" ;;
        card) w="text vcard" ;;
        *) w="" ;;
      esac
      mapfile -t COMPREPLY < <(compgen -W "$w" -- "$cur")
      return
      ;;
    --contact)
      mapfile -t COMPREPLY < <(compgen -W "$(_kith_contact_ids)" -- "$cur")
      return
      ;;
    --name | --device | --email | --phone | --org | --title | --tag | --met-at | \
      --link | --nickname | --birthday | --needs | --offers | --note | --search | \
      --date | --within | --expires | --listen | --relay | --addr | --wait | \
      --with | --to | --reason | --value | --peer | --message | -m | --share | \
      --for | --max-envelope | --box-quota | --box-count | --owner-quota | --ttl | \
      --max-conns | --per-address | --rate)
      [[ $cmd ]] && return # a value of the user's own
      ;;
  esac

  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "--home --json --help --version" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "init whoami card contact note followup due
        tag import export peer device invite join serve sync share unshare referral
        relay bundle intro help" -- "$cur")
    fi
    return
  fi

  local subs="" opts="--help" args=""
  case $cmd in
    init) opts+=" --name --device" ;;
    card)
      subs="show set"
      [[ $sub == set ]] && args=fields || opts+=" --format -o --qr"
      ;;
    contact)
      subs="add list show set rm"
      case $sub in
        add) opts+=" --name --email --phone --org --title --tag --met-at --link
                     --nickname --birthday --needs --offers --note" ;;
        list) opts+=" --tag --search" ;;
        show | rm) ((nargs == 0)) && args=ids ;;
        set) ((nargs == 0)) && args=ids || args="fields met_at last_contacted
               follow_up tags" ;;
      esac
      ;;
    note)
      subs="add list edit rm"
      case $sub in
        add) opts+=" --date --edit"; ((nargs == 0)) && args=ids ;;
        list) ((nargs == 0)) && args=ids ;;
      esac
      ;;
    followup)
      opts+=" --clear"
      ((nargs == 0)) && args=ids || args="today tomorrow done +1w +1m"
      ;;
    due) opts+=" --within --tag" ;;
    tag)
      subs="cadence list"
      [[ $sub == cadence && $nargs == 1 ]] && args=off
      ;;
    import) opts+=" --format --dry-run"; ((nargs == 0)) && args=files ;;
    export) opts+=" --format -o --output" ;;
    peer)
      subs="list show verify confirm rm ping"
      [[ $sub == ping ]] && opts+=" --addr"
      ;;
    device)
      subs="list revoke ping"
      [[ $sub == ping ]] && opts+=" --addr"
      ;;
    invite) opts+=" --device --expires --qr --listen --relay" ;;
    serve) opts+=" --listen" ;;
    sync) opts+=" --addr --relay --wait" ;;
    share | unshare) opts+=" --with"; ((nargs == 0)) && args=ids ;;
    referral)
      subs="add list show status thank stats"
      case $sub in
        add) opts+=" --contact --to --reason --value" ;;
        list) opts+=" --given --received --peer" ;;
        status) opts+=" --note"
          ((nargs == 1)) && args="offered accepted contacted met won lost declined" ;;
        thank) opts+=" --value" ;;
        stats) opts+=" --peer" ;;
      esac
      ;;
    relay)
      subs="run add list rm"
      [[ $sub == run ]] && opts+=" --listen --data --max-envelope --box-quota
        --box-count --owner-quota --ttl --max-conns --per-address --rate"
      ;;
    bundle)
      subs="export import"
      case $sub in
        export) opts+=" --to -o --output" ;;
        import) ((nargs == 0)) && args=files ;;
      esac
      ;;
    intro)
      subs="propose list show accept decline withdraw"
      case $sub in
        propose) opts+=" --message --expires" ;;
        accept) opts+=" --share --for" ;;
        decline) opts+=" --for" ;;
      esac
      ;;
  esac

  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
  elif [[ -n $subs && -z $sub ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
  elif [[ $args == ids ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_kith_contact_ids)" -- "$cur")
  elif [[ $args == files ]]; then
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  elif [[ $args == fields* ]]; then
    # FIELD=VALUE: the card's fields ('kith card --help'), and for a contact the
    # few more listed after "fields"; x-NAME is the user's own
    compopt -o nospace 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -S = -W "name given_name family_name
      middle_name name_prefix name_suffix nickname org title birthday needs offers
      emails phones addresses links ims ${args#fields}" -- "$cur")
  elif [[ -n $args ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$args" -- "$cur")
  fi
} && complete -F _kith kith
