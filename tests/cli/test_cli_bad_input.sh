#!/usr/bin/env bash
# Bad input through the kassa CLI: every refusal is one clear line on
# stderr ("kassa: ..."), a non-zero exit, nothing on stdout, and no change at
# all to the terminal (state hash, version vector, operation and pending
# counts). Covers malformed catalog CSV (each bad row reported as
# FILE:LINE: reason), bad quantities and amounts, refused voids and returns,
# damaged or foreign export files, a database altered behind kassa's back
# (log verify), a database from a newer kassa, missing --data, init twice,
# and cashiers with a bad id, name, role or PIN.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_tmpdir
T1=$TEST_TMP/t1
T2=$TEST_TMP/t2
FX=$KASSA_TEST_FIXTURES
k1() { kassa --data "$T1" "$@"; }

# refused DIR [expect_fail options] CMD...: CMD fails cleanly and DIR is
# left exactly as it was.
refused()
{
    local d=$1
    shift
    expect_unchanged "$d" expect_fail "$@"
}

# altered SQL: a fresh copy of T1 in $ALT, with SQL applied by sqlite3.
altered()
{
    ALT=$TEST_TMP/alt
    rm -rf "$ALT"
    cp -a "$T1" "$ALT"
    sqlite3 "$ALT/kassa.db" "$1"
}

kassa --data "$T1" init --store S1 --node T1 >/dev/null
kassa --data "$T2" init --store S1 --node T2 >/dev/null
# T2 holds one operation of its own, none of T1's.
kassa --data "$T2" tax set reduced 5.5 >/dev/null
k1 catalog import "$FX/catalog_small.csv" >/dev/null
SALE=$(k1 --json sale --line MILK-1L:3 --line CHOC-100:1 --pay cash:10 | json_drop_arrays | json_field sale_id)
CATALOG_BEFORE=$(k1 --json catalog list)

# ---------------------------------------------------------------- catalog CSV
csv_rows()
{
    F=$FX/catalog_bad_rows.csv
    refused "$T1" --lines 9 kassa --data "$T1" catalog import "$F"
    # One "FILE:LINE: reason" line per bad row, in file order. Line 7 starts a
    # row whose quoted name spans lines 7-8; line 9 repeats the SKU of line 2.
    expect_eq "bad rows reported" "3 5 6 7 9 10 11 12" \
        "$(head -n 8 <<<"$FAIL_STDERR" | sed -n "s|^$F:\\([0-9]*\\): .*|\\1|p" | tr '\n' ' ' | sed 's/ $//')"
    expect_match "line 3: price" "^$F:3: price: .*1\\.234.*two decimals" "$FAIL_STDERR"
    expect_match "line 5: stock" "^$F:5: stock: .*-3" "$FAIL_STDERR"
    expect_match "line 6: barcode" "^$F:6: barcode: .*12AB" "$FAIL_STDERR"
    expect_match "line 7: name" "^$F:7: name: " "$FAIL_STDERR"
    expect_match "line 9: duplicate" "^$F:9: .*GOOD-1.*line 2" "$FAIL_STDERR"
    expect_match "line 10: fields" "^$F:10: .*6 fields" "$FAIL_STDERR"
    expect_match "line 11: sku" "^$F:11: sku: " "$FAIL_STDERR"
    expect_match "line 12: overflow" "^$F:12: price: .*exceeds maximum" "$FAIL_STDERR"
    expect_match "summary" "^kassa: $F: 8 malformed rows; first at line 3: .*; nothing imported\$" "$FAIL_STDERR"
    expect_eq "catalog unchanged" "$CATALOG_BEFORE" "$(k1 --json catalog list)"
    expect_fail --grep 'unknown SKU "GOOD-1"' kassa --data "$T1" stock show GOOD-1

    F=$FX/catalog_bad_header.csv
    refused "$T1" --lines 2 --grep "^$F:1: header: " --grep "^kassa: $F: line 1: header: .*nothing imported" \
        kassa --data "$T1" catalog import "$F"
    F=$FX/catalog_bad_quote.csv
    refused "$T1" --lines 2 --grep "^$F:2: unterminated quoted field" --grep "^kassa: $F: 1 malformed row at line 2" \
        kassa --data "$T1" catalog import "$F"
    : >"$TEST_TMP/empty.csv"
    refused "$T1" --lines 2 --grep "^$TEST_TMP/empty.csv:1: " kassa --data "$T1" catalog import "$TEST_TMP/empty.csv"
    refused "$T1" --grep 'cannot open .*no-such.csv' kassa --data "$T1" catalog import "$TEST_TMP/no-such.csv"
    # Well-formed rows, but a tax class the store does not know: the second row
    # is fine and must not be imported either.
    F=$FX/catalog_unknown_tax.csv
    refused "$T1" --grep "^kassa: $F: line 2: unknown tax class \"luxury\"; nothing imported\$" \
        kassa --data "$T1" catalog import "$F"
    expect_fail kassa --data "$T1" stock show LUX-2
}

# ---------------------------------------------------------------- sales
sale_input()
{
    sale_refused() { refused "$T1" "$@"; }
    sale_refused --grep 'unknown SKU "NOPE"' kassa --data "$T1" sale --line NOPE:1 --pay cash:10
    sale_refused --grep 'unknown SKU "NOPE"' kassa --data "$T1" sale --line MILK-1L:1 --line NOPE:1 --pay cash:10
    sale_refused --grep 'invalid SKU' kassa --data "$T1" sale --line 'BAD SKU:1' --pay cash:10
    for q in 0 -1 abc 1.5 '' 99999999999999999999 1000001 ' 1' 1e3; do
        sale_refused --grep 'quantity|SKU:QTY' kassa --data "$T1" sale --line "MILK-1L:$q" --pay cash:10
    done
    sale_refused --grep 'expected SKU:QTY' kassa --data "$T1" sale --line MILK-1L --pay cash:10
    sale_refused --grep 'quantity above 1000000' kassa --data "$T1" sale --line MILK-1L:1000000 --line MILK-1L:1 --pay cash:10
    for a in 10.001 10.000 99999999999999999999 100000000000.01 -5 '' 1,5 .5 12. abc; do
        sale_refused --grep 'invalid amount' kassa --data "$T1" sale --line MILK-1L:1 --pay "cash:$a"
    done
    for d in 0.123 99999999999999999999 -1 abc; do
        sale_refused --grep 'invalid amount' kassa --data "$T1" sale --line MILK-1L:1 --discount "MILK-1L:$d" --pay cash:10
    done
    for p in 101% 12.345% -5% abc% %; do
        sale_refused --grep 'invalid percentage' kassa --data "$T1" sale --line MILK-1L:1 --discount "MILK-1L:$p" --pay cash:10
    done
    sale_refused --grep 'discount 2\.00 exceeds line amount 1\.00' \
        kassa --data "$T1" sale --line MILK-1L:1 --discount MILK-1L:2.00 --pay cash:10
    sale_refused --grep 'not in the sale' kassa --data "$T1" sale --line MILK-1L:1 --discount CHOC-100:10% --pay cash:10
    # MILK-1L: 1.00 + 5.5 % = 1.055 -> 1.06; one cent short.
    sale_refused --grep '^kassa: payment 1\.05 is less than the total 1\.06$' \
        kassa --data "$T1" sale --line MILK-1L:1 --pay cash:1.05
    sale_refused --grep 'payment 0\.00 is less than' kassa --data "$T1" sale --line MILK-1L:1 --pay cash:0
    sale_refused --grep 'only cash' kassa --data "$T1" sale --line MILK-1L:1 --pay card:10
    # A line above the maximum amount (100000000000.00): an item at the
    # maximum price, twice.
    k1 catalog set DEAR --name "Dear item" --price 100000000000.00 --tax zero
    sale_refused --grep 'exceeds|maximum|overflow|out of range' \
        kassa --data "$T1" sale --line DEAR:2 --pay cash:100000000000
    sale_refused --usage kassa --data "$T1" sale --line MILK-1L:1
    sale_refused --usage kassa --data "$T1" sale --pay cash:10
    sale_refused --usage kassa --data "$T1" sale --line MILK-1L:1 --pay
    sale_refused --usage kassa --data "$T1" sale --line MILK-1L:1 --pay cash:5 --tip 1
    expect_eq "sales after refused sales" 1 "$(k1 --json status | json_field sales)"
}

other_input()
{
    refused "$T1" --grep 'quantity' kassa --data "$T1" stock receive MILK-1L:0
    refused "$T1" --grep 'quantity' kassa --data "$T1" stock receive MILK-1L:-5
    refused "$T1" --grep 'quantity' kassa --data "$T1" stock receive MILK-1L:99999999999999999999
    refused "$T1" --grep 'unknown SKU "NOPE"' kassa --data "$T1" stock receive NOPE:1
    refused "$T1" --grep 'quantity' kassa --data "$T1" stock count MILK-1L:-1
    refused "$T1" --grep 'unknown SKU "NOPE"' kassa --data "$T1" stock count NOPE:0
    refused "$T1" --grep 'invalid amount' kassa --data "$T1" catalog set MILK-1L --price 1.234
    refused "$T1" --grep 'invalid amount' kassa --data "$T1" catalog set MILK-1L --price 99999999999999999999
    refused "$T1" --grep 'unknown tax class "luxury"' kassa --data "$T1" catalog set MILK-1L --tax luxury
    refused "$T1" --grep 'invalid percentage' kassa --data "$T1" tax set standard 12.345
    refused "$T1" --grep 'invalid percentage' kassa --data "$T1" tax set standard 101
    refused "$T1" --grep 'invalid' kassa --data "$T1" tax set 'bad class' 5
    refused "$T1" --usage kassa --data "$T1" frobnicate
    refused "$T1" --usage kassa --data "$T1" sales list extra
}

# ---------------------------------------------------------------- void / return
void_return()
{
    refused "$T1" --grep "cannot return 4 of MILK-1L: sale $SALE sold 3, 0 already returned" \
        kassa --data "$T1" return "$SALE" --line MILK-1L:4
    refused "$T1" --grep 'quantity' kassa --data "$T1" return "$SALE" --line MILK-1L:0
    refused "$T1" --grep "sale $SALE has no BREAD" kassa --data "$T1" return "$SALE" --line BREAD:1
    refused "$T1" --grep 'listed twice' kassa --data "$T1" return "$SALE" --line MILK-1L:1 --line MILK-1L:1
    refused "$T1" --usage kassa --data "$T1" return "$SALE"
    k1 return "$SALE" --line MILK-1L:2 >/dev/null
    refused "$T1" --grep "cannot return 2 of MILK-1L: sale $SALE sold 3, 2 already returned" \
        kassa --data "$T1" return "$SALE" --line MILK-1L:2
    # A return line that is fine next to one that is not: nothing is returned.
    refused "$T1" --grep 'cannot return 2 of MILK-1L' kassa --data "$T1" return "$SALE" --line CHOC-100:1 --line MILK-1L:2
    refused "$T1" --grep "sale $SALE has returns" kassa --data "$T1" void "$SALE"

    V=$(k1 --json sale --line BREAD:1 --pay cash:5 | json_drop_arrays | json_field sale_id)
    k1 void "$V" >/dev/null
    refused "$T1" --grep "sale $V is already voided" kassa --data "$T1" void "$V"
    refused "$T1" --grep "sale $V is voided" kassa --data "$T1" return "$V" --line BREAD:1
}

sale_ids()
{
    for cmd in "void" "receipt" "return"; do
        extra=()
        [ "$cmd" != return ] || extra=(--line MILK-1L:1)
        refused "$T1" --grep 'unknown sale T1-999' kassa --data "$T1" $cmd T1-999 "${extra[@]}"
        refused "$T1" --grep 'unknown sale T9-1' kassa --data "$T1" $cmd T9-1 "${extra[@]}"
        refused "$T1" --grep 'T1-1 is not a sale' kassa --data "$T1" $cmd T1-1 "${extra[@]}"
        for bad in garbage T1- -5 T1-0 T1-x 'T 1-1' T1-99999999999999999999999; do
            refused "$T1" --grep 'invalid sale id' kassa --data "$T1" $cmd "$bad" "${extra[@]}"
        done
    done
}

# ---------------------------------------------------------------- imports
imports()
{
    k1 export >"$TEST_TMP/all.bin"
    SIZE=$(stat -c %s "$TEST_TMP/all.bin")
    kassa --data "$TEST_TMP/other" init --store OTHER --node T1 >/dev/null
    kassa --data "$TEST_TMP/other" catalog import "$FX/catalog_small.csv" >/dev/null
    kassa --data "$TEST_TMP/other" export >"$TEST_TMP/other.bin"

    import_refused() # import_refused FILE [expect_fail options]
    {
        local f=$1
        shift
        refused "$T2" "$@" kassa --data "$T2" import "$f"
    }
    head -c $((SIZE / 2)) "$TEST_TMP/all.bin" >"$TEST_TMP/half.bin"
    import_refused "$TEST_TMP/half.bin" --grep 'truncated or corrupted; nothing imported$'
    head -c $((SIZE - 1)) "$TEST_TMP/all.bin" >"$TEST_TMP/minus1.bin"
    import_refused "$TEST_TMP/minus1.bin" --grep 'truncated or corrupted'
    head -c 12 "$TEST_TMP/all.bin" >"$TEST_TMP/head12.bin"
    import_refused "$TEST_TMP/head12.bin" --grep 'nothing imported'
    cat "$TEST_TMP/all.bin" "$TEST_TMP/all.bin" >"$TEST_TMP/twice.bin"
    import_refused "$TEST_TMP/twice.bin" --grep 'nothing imported'

    # One flipped byte anywhere: magic, version, store id, op fields, payloads,
    # the final checksum.
    flip() # flip IN OUT OFFSET
    {
        local b
        cp "$1" "$2"
        b=$(od -An -tu1 -j "$3" -N1 "$1" | tr -d ' ')
        # shellcheck disable=SC2059 # the format is the octal escape
        printf "$(printf '\\%03o' $(((b ^ 0x5a) & 0xff)))" |
            dd of="$2" bs=1 seek="$3" count=1 conv=notrunc status=none
    }
    for off in 0 7 8 9 10 14 20 40 $((SIZE / 3)) $((SIZE / 2)) $((SIZE - 40)) $((SIZE - 33)) $((SIZE - 32)) $((SIZE - 1)); do
        flip "$TEST_TMP/all.bin" "$TEST_TMP/flip.bin" "$off"
        cmp -s "$TEST_TMP/all.bin" "$TEST_TMP/flip.bin" && fail "flip at $off changed nothing"
        import_refused "$TEST_TMP/flip.bin" --grep 'nothing imported'
    done
    import_refused "$TEST_TMP/other.bin" --grep 'belongs to store "OTHER", this is "S1"; nothing imported'
    head -c 4096 /dev/urandom >"$TEST_TMP/junk.bin"
    import_refused "$TEST_TMP/junk.bin" --grep 'not a kassa export file'
    # Junk behind a valid-looking start.
    { head -c 16 "$TEST_TMP/all.bin"; head -c 2000 /dev/urandom; } >"$TEST_TMP/junk2.bin"
    import_refused "$TEST_TMP/junk2.bin" --grep 'nothing imported'
    : >"$TEST_TMP/empty.bin"
    import_refused "$TEST_TMP/empty.bin" --grep 'not a kassa export file'
    flip "$TEST_TMP/all.bin" "$TEST_TMP/version.bin" 8 # the format version byte
    import_refused "$TEST_TMP/version.bin" --grep 'version'
    import_refused "$TEST_TMP/no-such.bin" --grep 'cannot open'
    import_refused "$TEST_TMP" --grep 'cannot read'

    # An altered operation in a file whose checksum was recomputed (what a
    # forger or a buggy peer produces): the hash chain rejects it.
    reseal() # reseal IN OUT: recompute the trailing BLAKE2b-256 checksum
    {
        local n
        n=$(stat -c %s "$1")
        head -c $((n - 32)) "$1" >"$2"
        head -c $((n - 32)) "$1" | b2sum -l 256 | cut -d' ' -f1 | xxd -r -p >>"$2"
    }
    reseal "$TEST_TMP/all.bin" "$TEST_TMP/resealed.bin"
    cmp -s "$TEST_TMP/all.bin" "$TEST_TMP/resealed.bin" ||
        fail "reseal does not reproduce kassa's checksum (BLAKE2b-256 over the body)"
    off=$(grep -obUaF Umbrella "$TEST_TMP/all.bin" | head -n1 | cut -d: -f1)
    [ -n "$off" ] || fail "no catalog name found in the export"
    cp "$TEST_TMP/all.bin" "$TEST_TMP/forged0.bin"
    printf 'V' | dd of="$TEST_TMP/forged0.bin" bs=1 seek="$off" conv=notrunc status=none
    reseal "$TEST_TMP/forged0.bin" "$TEST_TMP/forged.bin"
    import_refused "$TEST_TMP/forged.bin" --grep "operation T1/[0-9]+ does not continue its origin's hash chain"

    # The good file still imports, and then the forged one must still be
    # refused: an operation already held is compared with what arrives.
    expect_eq "good import after refusals" "0" "$(kassa --data "$T2" --json import "$TEST_TMP/all.bin" | json_field pending)"
    kassa --data "$T1" vv >"$TEST_TMP/t1.vv"
    kassa --data "$T2" export --since "$TEST_TMP/t1.vv" >"$TEST_TMP/t2.bin"
    expect_eq "T2's own op into T1" 1 "$(k1 --json import "$TEST_TMP/t2.bin" | json_field applied)"
    expect_eq "T2 = T1" "$(state_hash "$T1")" "$(state_hash "$T2")"
    import_refused "$TEST_TMP/forged.bin" --grep "T1/[0-9]+"
}

# ---------------------------------------------------------------- log verify
log_verify()
{
    N=$(k1 vv | awk '$1 == "T1" {print $2}')
    T1ID="(SELECT id FROM origins WHERE name = 'T1')"
    verify_bad() # verify_bad SQL ORIGIN/SEQ
    {
        altered "$1"
        expect_fail --grep "^kassa: log altered: first bad operation $2: " kassa --data "$ALT" log verify
        local rc=0 out
        out=$("$KASSA_BIN/kassa" --data "$ALT" --json log verify) || rc=$?
        expect_eq "log verify --json exit status ($1)" 1 "$rc"
        expect_eq "log verify --json ok ($1)" false "$(json_field ok <<<"$out")"
        expect_eq "log verify --json first_bad ($1)" "$2" "$(json_field first_bad <<<"$out")"
    }
    verify_bad "UPDATE ops SET payload = X'00' WHERE origin = $T1ID AND seq = 3" T1/3
    verify_bad "UPDATE ops SET payload = payload || X'00' WHERE origin = $T1ID AND seq = 3" T1/3
    verify_bad "UPDATE ops SET hlc = hlc + 1 WHERE origin = $T1ID AND seq = 3" T1/3
    verify_bad "UPDATE ops SET kind = 7 WHERE origin = $T1ID AND seq = 3" T1/3
    verify_bad "UPDATE ops SET hash = zeroblob(32) WHERE origin = $T1ID AND seq = 3" T1/3
    verify_bad "UPDATE ops SET payload = (SELECT payload FROM ops WHERE origin = $T1ID AND seq = 2) WHERE origin = $T1ID AND seq = 3" T1/3
    verify_bad "DELETE FROM ops WHERE origin = $T1ID AND seq = 3" T1/3
    # The sale at the head of the log, deleted: the chain up to it is intact,
    # but the terminal's own head (origins.head_seq/head_hash) says it existed.
    verify_bad "DELETE FROM ops WHERE origin = $T1ID AND seq = $N" "T1/$N"
}

newer_schema()
{
    local version
    version=$(sqlite3 "$T1/kassa.db" 'PRAGMA user_version')
    [ "$version" -ge 3 ] || fail "schema version of a new terminal: $version, want 3 or more"
    altered "PRAGMA user_version = 99"
    for cmd in "sales list" "status" "vv" "log verify" "sale --line MILK-1L:1 --pay cash:5" "catalog list"; do
        # shellcheck disable=SC2086 # split into words on purpose
        expect_fail --grep 'schema version 99' --grep 'newer' kassa --data "$ALT" $cmd
    done
    expect_eq "user_version left alone" 99 "$(sqlite3 "$ALT/kassa.db" 'PRAGMA user_version')"
    sqlite3 "$ALT/kassa.db" "PRAGMA user_version = $version"
    expect_eq "same data with the version put back" "$(state_hash "$T1")" "$(state_hash "$ALT")"
}

not_a_database()
{
    mkdir "$TEST_TMP/garbage"
    head -c 8192 /dev/urandom >"$TEST_TMP/garbage/kassa.db"
    cp "$TEST_TMP/garbage/kassa.db" "$TEST_TMP/garbage.copy"
    expect_fail --grep 'not a database|corrupt' kassa --data "$TEST_TMP/garbage" status
    cmp -s "$TEST_TMP/garbage/kassa.db" "$TEST_TMP/garbage.copy" || fail "kassa wrote into a file that is not its database"
}

# ---------------------------------------------------------------- --data
no_data_dir()
{
    CMDS=("catalog list" "catalog import $FX/catalog_small.csv" "tax set standard 10"
        "sale --line MILK-1L:1 --pay cash:5" "void T1-5" "return T1-5 --line MILK-1L:1"
        "receipt T1-5" "stock show" "stock receive MILK-1L:1" "sales list" "conflicts" "drawer"
        "export" "import $FX/catalog_small.csv" "vv" "state-hash" "log verify" "status"
        "init --store S9 --node N9" "cashier list" "cashier add c9 --name C --role cashier --pin 1234"
        "audit")
    cd "$TEST_TMP"
    for cmd in "${CMDS[@]}"; do
        # shellcheck disable=SC2086
        expect_unchanged "$T1" expect_fail --grep 'no data directory: pass --data DIR or set KASSA_DATA' \
            env -u KASSA_DATA "$KASSA_BIN/kassa" $cmd
    done
    [ ! -e "$TEST_TMP/kassa.db" ] || fail "a command without --data created kassa.db in the working directory"
    expect_fail --usage kassa sales list --data
    # KASSA_DATA is the documented default.
    expect_eq "KASSA_DATA default" "$(state_hash "$T1")" "$(KASSA_DATA=$T1 "$KASSA_BIN/kassa" state-hash)"
    expect_fail --grep 'holds no kassa database' kassa --data "$TEST_TMP/nowhere" sales list
    [ ! -e "$TEST_TMP/nowhere" ] || fail "opening a missing data directory created it"
}

# ---------------------------------------------------------------- init twice
init_twice()
{
    refused "$T1" --grep 'already initialised' kassa --data "$T1" init --store S1 --node T1
    refused "$T1" --grep 'already initialised' kassa --data "$T1" init --store OTHER --node T9
    expect_eq "store and node kept" '"store":"S1","node":"T1"' "$(k1 --json status | grep -o '"store":"S1","node":"T1"')"
    expect_fail --grep 'invalid store id' kassa --data "$TEST_TMP/t3" init --store 'bad id' --node T3
    expect_fail --grep 'invalid node id' kassa --data "$TEST_TMP/t3" init --store S1 --node 'T/3'
    [ ! -e "$TEST_TMP/t3/kassa.db" ] || fail "a refused init left a database"
    expect_fail --usage kassa --data "$TEST_TMP/t3" init --store S1
}

# ---------------------------------------------------------------- cashiers
cashiers()
{
    local list_before audit_before
    k1 cashier add ann --name "Ann" --role cashier --pin 2468 >/dev/null
    list_before=$(k1 --json cashier list)
    audit_before=$(k1 --json audit)
    add() { refused "$T1" "$@"; }
    add --grep '^kassa: unknown role "admin": cashier, supervisor or manager$' \
        kassa --data "$T1" cashier add bob --name Bob --role admin --pin 1234
    for r in Cashier CASHIER '' 'cashier ' 1; do
        add --grep "unknown role \"$r\"" kassa --data "$T1" cashier add bob --name Bob --role "$r" --pin 1234
    done
    # PINs: 4 to 12 digits, never echoed back.
    for pin in 987 '' 9876543210987 98a7 ' 9876' '9876 ' -987 +9876 9.876 $'98\n76'; do
        add --grep '^kassa: a PIN is 4 to 12 digits$' kassa --data "$T1" cashier add bob --name Bob --role cashier --pin "$pin"
    done
    # The same for a cashier who exists: nothing changes.
    add --grep 'PIN is 4 to 12 digits' kassa --data "$T1" cashier add ann --name "Ann B" --role manager --pin 12
    for id in 'a b' 'a/b' $'caf\xc3\xa9' 123456789012345678901234567890123 ''; do
        add --grep 'invalid cashier id' kassa --data "$T1" cashier add "$id" --name Bob --role cashier --pin 1234
    done
    add --grep 'name is 1\.\.96 bytes' kassa --data "$T1" cashier add bob --name '' --role cashier --pin 1234
    add --grep 'name is 1\.\.96 bytes' kassa --data "$T1" cashier add bob --name "$(printf 'n%.0s' {1..97})" --role cashier --pin 1234
    add --grep 'control characters' kassa --data "$T1" cashier add bob --name $'Bob\nBobson' --role cashier --pin 1234
    add --grep 'control characters' kassa --data "$T1" cashier add bob --name $'Bob\tB' --role cashier --pin 1234
    # Usage errors: status 2.
    add --usage kassa --data "$T1" cashier
    add --usage kassa --data "$T1" cashier add
    add --usage kassa --data "$T1" cashier add bob
    add --usage kassa --data "$T1" cashier add bob --name Bob --role cashier
    add --usage kassa --data "$T1" cashier add bob --name Bob --role cashier --pin
    add --usage kassa --data "$T1" cashier add bob --name Bob --role cashier --pin 1234 --pin 1234
    add --usage kassa --data "$T1" cashier add bob --name Bob --name Bob --role cashier
    add --usage kassa --data "$T1" cashier add bob --nom Bob --role cashier --pin 1234
    add --usage kassa --data "$T1" cashier add bob --name Bob --role cashier --pin 1234 extra
    add --usage kassa --data "$T1" cashier list extra
    add --usage kassa --data "$T1" cashier remove ann
    add --usage kassa --data "$T1" cashier lists
    add --usage kassa --data "$T1" audit extra
    add --usage kassa --data "$T1" audit --since 1
    expect_eq "cashiers unchanged" "$list_before" "$(k1 --json cashier list)"
    expect_eq "audit log unchanged" "$audit_before" "$(k1 --json audit)"
    # Nothing about the PIN in the database but its Argon2id hash.
    expect_eq "PIN hash" 1 "$(sqlite3 "$T1/kassa.db" "SELECT count(*) FROM cashiers WHERE pin_hash LIKE '\$argon2id\$%'")"
    expect_eq "no PIN in the log" 0 "$(sqlite3 "$T1/kassa.db" "SELECT count(*) FROM ops WHERE instr(payload, CAST('9876543210987' AS BLOB)) > 0")"
}

still_consistent()
{
    expect_match "log verify T1" '^log ok: ' "$(k1 log verify)"
    expect_eq "integrity T1" ok "$(sqlite3 "$T1/kassa.db" 'PRAGMA integrity_check')"

}

run_section "malformed catalog rows: each reported with its line, nothing imported" csv_rows
run_section "sale: unknown SKU, bad quantities and amounts, short payment" sale_input
run_section "other commands: bad quantities, amounts and rates" other_input
run_section "returns beyond what was sold, voids refused" void_return
run_section "unknown and malformed sale ids" sale_ids
run_section "import: damaged, foreign and junk files into a terminal that lacks the ops" imports
run_section "log verify on a database altered with sqlite3" log_verify
run_section "database from a newer kassa" newer_schema
run_section "a file that is not a database" not_a_database
run_section "commands without --data" no_data_dir
run_section "init twice" init_twice
run_section "cashiers: bad role, id, name and PIN; usage errors" cashiers
run_section "still consistent" still_consistent
finish
