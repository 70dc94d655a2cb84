#!/usr/bin/env bash
# pulpdist import on a real tree: the manifest lists every path with the
# right type, mode, mtime, size, SHA-256, link target and hardlink group;
# special files are skipped with a warning; an unchanged tree makes no
# version; edits of every kind make a version whose diff names exactly
# them; the source is never modified.
. "$(dirname "$0")/lib.sh"

DATA=$TEST_ROOT/data
KEY=$TEST_ROOT/k.key

# imp [ARGS...]: import src as tree t.
imp() {
	pd import --data "$DATA" --tree t --key "$KEY" "$@" src
}

test_expect_success 'setup: key and a varied source tree' '
	pd keygen k >/dev/null
	make_tree src
	mkfifo src/fifo
	"$PYTHON" -c "import socket; socket.socket(socket.AF_UNIX).bind(\"src/docs/sock\")"
	echo outside >outside
	ln outside src/linked-outside
	mkdir -m 1777 src/sticky
	random_file src/setuid 10
	chmod 4755 src/setuid
	random_file src/100% 11
	random_file src/café 12
	ln -s "tar get%" src/odd-target
	random_file src/data/hard-c 900
	ln src/data/hard-c src/bin/hard-d
	ln src/data/hard-c src/empty-dir-sibling
	cp -a src snap
'

test_expect_success 'first import makes version 1' '
	imp --json >imp.json 2>err
	files=$(find src -type f | wc -l)
	dirs=$(find src -mindepth 1 -type d | wc -l)
	links=$(find src -type l | wc -l)
	json_check imp.json "d[\"version\"] == 1" \
		"d[\"unchanged\"] is False" "d[\"tree\"] == \"t\"" \
		"d[\"files\"] == $files" "d[\"dirs\"] == $dirs" \
		"d[\"links\"] == $links" \
		"d[\"entries\"] == $files + $dirs + $links" \
		"d[\"skipped\"] == 2" "d[\"files_cached\"] == 0" \
		"d[\"changes\"][\"added\"] == d[\"entries\"]"
	# bytes: every file size, each hardlinked inode once
	bytes=$(find src -type f -printf "%i %s\n" | sort -u |
		awk "{ s += \$2 } END { print s }")
	json_check imp.json "d[\"bytes\"] == $bytes"
'

test_expect_success 'special files are skipped with a warning naming them' '
	test_grep "src/fifo" err
	test_grep "src/docs/sock" err
	pd show --data "$DATA" --tree t --json >show1.json
	json_check show1.json "ent(\"fifo\") is None" \
		"ent(\"docs/sock\") is None"
'

test_expect_success 'show --json lists every path as it is in the source' '
	check_manifest src show1.json
	json_check show1.json "d[\"version\"] == 1" "d[\"parent\"] is None" \
		"d[\"tree\"] == \"t\""
'

test_expect_success 'the manifest spells the tricky entries as the spec says' '
	json_check show1.json \
		"ent(\"empty-dir\")[\"type\"] == \"dir\"" \
		"ent(\"with%20space.txt\")[\"size\"] == 77" \
		"ent(\"100%25\")[\"size\"] == 11" \
		"ent(\"café\")[\"size\"] == 12" \
		"ent(\"odd-target\")[\"target\"] == \"tar%20get%25\"" \
		"ent(\"link-to-readme\")[\"target\"] == \"README\"" \
		"ent(\"dangling\")[\"type\"] == \"link\"" \
		"ent(\"docs/up\")[\"type\"] == \"link\"" \
		"ent(\"bin/tool.sh\")[\"mode\"] == \"0755\"" \
		"ent(\"private\")[\"mode\"] == \"0600\"" \
		"ent(\"setuid\")[\"mode\"] == \"4755\"" \
		"ent(\"sticky\")[\"mode\"] == \"1777\"" \
		"ent(\"data/big.bin\")[\"size\"] == 3 * 1024 * 1024 + 123"
'

test_expect_success 'entries are in byte order: docs, docs-old.txt, docs.txt, docs/...' '
	json_check show1.json \
		"[p for p in paths() if p.startswith(\"docs\")][:4] == [\"docs\", \"docs-old.txt\", \"docs.txt\", \"docs/deep\"]"
'

test_expect_success 'hardlinks: groups numbered in path order, outside links ignored' '
	json_check show1.json \
		"ent(\"bin/hard-d\")[\"hardlink\"] == 1" \
		"ent(\"data/hard-b\")[\"hardlink\"] == 2" \
		"ent(\"data/hard-c\")[\"hardlink\"] == 1" \
		"ent(\"empty-dir-sibling\")[\"hardlink\"] == 1" \
		"ent(\"hard-a\")[\"hardlink\"] == 2" \
		"ent(\"hard-a\")[\"sha256\"] == ent(\"data/hard-b\")[\"sha256\"]" \
		"\"hardlink\" not in ent(\"linked-outside\")" \
		"\"hardlink\" not in ent(\"README\")"
'

test_expect_success 'the stored objects are the files, by SHA-256' '
	sha=$(sha256sum <src/data/big.bin | cut -c1-64)
	cmp src/data/big.bin "$(obj_path "$DATA" "$sha")"
	sha=$(sha256sum <src/empty-file | cut -c1-64)
	test -f "$(obj_path "$DATA" "$sha")"
	test_eq 0 "$(stat -c %s "$(obj_path "$DATA" "$sha")")" size
'

test_expect_success 'verify accepts the new version' '
	pd verify --data "$DATA" --tree t >out
	test_grep "signature good" out
'

test_expect_success 'import does not modify its source' '
	compare_trees --mtime src snap
'

test_expect_success 'import of an unchanged tree makes no version' '
	imp >out
	test_grep "unchanged" out
	imp --json >imp.json
	json_check imp.json "d[\"unchanged\"] is True" "d[\"version\"] == 1"
	imp --threads 1 --json >imp.json
	json_check imp.json "d[\"unchanged\"] is True"
	test_eq 1 "$(log_versions "$DATA" t)" versions
'

test_expect_success 'names with a space or % are ordinary: no warning' '
	mkdir plain
	: >"plain/with space"
	: >"plain/100%"
	pd import --data "$DATA" --tree plain --key "$KEY" plain >out 2>err
	test_file_is_empty err
'

test_expect_success 'edits of every kind make version 2' '
	random_file src/docs/guide.txt 4095
	random_file src/new-file 200
	rm src/docs-old.txt
	mv src/data/medium.bin src/data/medium-renamed.bin
	chmod 0640 src/private
	ln -sfn docs.txt src/link-to-readme
	rm src/one-byte
	mkdir src/one-byte
	random_file src/one-byte/inside 300
	imp --json >imp2.json 2>err
	json_check imp2.json "d[\"version\"] == 2" \
		"d[\"unchanged\"] is False" \
		"d[\"changes\"][\"added\"] == 2" \
		"d[\"changes\"][\"removed\"] == 1" \
		"d[\"changes\"][\"changed\"] == 3" \
		"d[\"changes\"][\"renamed\"] == 1" \
		"d[\"changes\"][\"metadata\"] >= 1" \
		"d[\"objects_new\"] == 3"
	test_eq "2 1" "$(log_versions "$DATA" t)" versions
'

test_expect_success 'diff --json 1 2 names exactly the edits' '
	pd diff --data "$DATA" --tree t --json 1 2 >diff.json
	diff_lines diff.json >actual
	cat >expect <<-\EOF
	added new-file
	added one-byte/inside
	changed docs/guide.txt
	changed link-to-readme
	changed one-byte
	mode private 0600 -> 0640
	removed docs-old.txt
	renamed data/medium.bin -> data/medium-renamed.bin
	EOF
	test_cmp expect actual
	json_check diff.json "d[\"counts\"][\"added\"] == 2" \
		"d[\"counts\"][\"removed\"] == 1" \
		"d[\"counts\"][\"changed\"] == 3" \
		"d[\"counts\"][\"renamed\"] == 1" \
		"d[\"counts\"][\"mode\"] == 1" \
		"d[\"root_changed\"] is True"
	json_check imp2.json \
		"d[\"changes\"][\"metadata\"] == 1 + $(json_get diff.json "d[\"counts\"][\"touched\"]")"
'

test_expect_success 'diff text output names the same edits' '
	pd diff --data "$DATA" --tree t 1 2 >out
	test_grep -x "renamed  data/medium.bin -> data/medium-renamed.bin" out
	test_grep -x "changed  one-byte (file -> directory)" out
	test_grep -x "mode     private (0600 -> 0640)" out
	test_grep -x "removed  docs-old.txt" out
	test_grep "^2 added, 1 removed, 3 changed, 1 renamed, 1 mode," out
'

test_expect_success 'version 2 lists the edited tree; verify passes' '
	pd show --data "$DATA" --tree t --json >show2.json
	check_manifest src show2.json
	expect_false check_manifest src show1.json
	json_check show2.json "d[\"version\"] == 2" \
		"d[\"parent\"] == \"$(json_get show1.json "d[\"manifest\"]")\""
	pd verify --data "$DATA" --tree t
	pd verify --data "$DATA" --tree t --version 1
'

test_expect_success 'directory replaced by a file, file by a symlink: version 3' '
	rm -r src/one-byte
	random_file src/one-byte 5
	rm src/README
	ln -s docs.txt src/README
	rmdir src/sticky
	ln -s empty-dir src/sticky
	imp --json >imp3.json
	json_check imp3.json "d[\"version\"] == 3"
	pd diff --data "$DATA" --tree t --json 2 3 >diff.json
	diff_lines diff.json >actual
	cat >expect <<-\EOF
	changed README
	changed one-byte
	changed sticky
	removed one-byte/inside
	EOF
	test_cmp expect actual
	pd diff --data "$DATA" --tree t 2 3 >out
	test_grep -x "changed  one-byte (directory -> file)" out
	test_grep -x "changed  README (file -> link)" out
	test_grep -x "changed  sticky (directory -> link)" out
	pd show --data "$DATA" --tree t --json >show3.json
	check_manifest src show3.json
	pd verify --data "$DATA" --tree t
'

test_expect_success 'the same content as another tree stores no new objects' '
	pd import --data "$DATA" --tree copy --key "$KEY" --json src >imp.json
	json_check imp.json "d[\"version\"] == 1" "d[\"objects_new\"] == 0"
	pd show --data "$DATA" --tree copy --json >copy.json
	check_manifest src copy.json
	test_eq "3 2 1" "$(log_versions "$DATA" t)" versions
'

test_expect_success 'an empty source directory is a version with no entries' '
	mkdir empty-src
	pd import --data "$DATA" --tree empty --key "$KEY" --json empty-src \
		>imp.json
	json_check imp.json "d[\"version\"] == 1" "d[\"entries\"] == 0"
	pd show --data "$DATA" --tree empty --json >show.json
	json_check show.json "d[\"entries\"] == []"
	pd verify --data "$DATA" --tree empty
'

test_done
