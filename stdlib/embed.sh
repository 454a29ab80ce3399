#!/bin/sh
# embed.sh IN.cm OUT.c NAME: the prelude as a C string, so that cmrun needs
# no file at run time.
awk -v name="$3" 'BEGIN { printf "/* generated from %s by stdlib/embed.sh */\nconst char %s[] =\n", ARGV[1], name }
  { gsub(/\\/, "&&"); gsub(/"/, "\\\""); printf "    \"%s\\n\"\n", $0 }
  END { print "    \"\";" }' "$1" > "$2"
