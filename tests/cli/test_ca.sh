#!/usr/bin/env bash
# The company CA through the kassa CLI: ca init / issue / revoke / crl.
# Checks file modes, the issued certificate as openssl sees it (SAN URI,
# EKUs, CA:FALSE), that `openssl verify -crl_check` accepts it before the
# revoke and refuses it after, and that bad input (missing arguments, bad
# ids, issue before init, re-init, an existing device directory) is refused
# with one line on stderr.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_tmpdir
CA=$TEST_TMP/CA
DEV=$TEST_TMP/dev-t1

mode() { stat -c %a "$1"; }

verify_dev()
{
    openssl verify -crl_check -CRLfile "$CA/crl.pem" -CAfile "$CA/ca.crt" "$1/device.crt"
}

section_bad_input_before_init()
{
    expect_fail --usage kassa ca
    expect_fail --usage kassa ca init
    expect_fail --usage kassa ca bogus --dir "$CA"
    expect_fail --usage kassa ca init --dir
    expect_fail --usage kassa ca init --dir "$CA" --dir "$CA"
    expect_fail --usage kassa ca issue --dir "$CA" --store s1 --node t1
    expect_fail --usage kassa ca revoke --dir "$CA" --store s1
    expect_fail --grep 'no CA in' kassa ca issue --dir "$CA" --store s1 --node t1 --out "$DEV"
    expect_fail --grep 'no CA in' kassa ca revoke --dir "$CA" --store s1 --node t1
    [ ! -e "$DEV" ] || fail "issue before init created $DEV"
}

section_init()
{
    local out
    out=$(kassa ca init --dir "$CA")
    expect_contains "init output" "CA created" "$out"
    expect_eq "ca.key mode" 600 "$(mode "$CA/ca.key")"
    expect_eq "CA dir mode" 700 "$(mode "$CA")"
    [ -s "$CA/ca.crt" ] && [ -s "$CA/crl.pem" ] && [ -e "$CA/index.txt" ] ||
        fail "CA files missing: $(ls -l "$CA")"
    local text
    text=$(openssl x509 -in "$CA/ca.crt" -noout -text)
    expect_contains "CA subject" "CN = kassa company CA" "$text"
    expect_contains "CA basicConstraints" "CA:TRUE" "$text"
    expect_match "CA basicConstraints critical" "Basic Constraints: critical" "$text"
    expect_contains "CA keyUsage" "Certificate Sign, CRL Sign" "$text"
    openssl crl -in "$CA/crl.pem" -noout -CAfile "$CA/ca.crt" 2>&1 | grep -q "verify OK" ||
        fail "initial CRL does not verify"
    expect_fail --grep 'already holds a CA' kassa ca init --dir "$CA"
}

section_issue()
{
    kassa ca issue --dir "$CA" --store s1 --node t1 --out "$DEV" >/dev/null
    expect_eq "device dir mode" 700 "$(mode "$DEV")"
    expect_eq "device.key mode" 600 "$(mode "$DEV/device.key")"
    cmp -s "$CA/ca.crt" "$DEV/ca.crt" || fail "ca.crt not copied"
    local text
    text=$(openssl x509 -in "$DEV/device.crt" -noout -text)
    expect_contains "SAN URI" "URI:urn:kassa:store:s1:node:t1" "$text"
    expect_contains "EKUs" "TLS Web Server Authentication, TLS Web Client Authentication" "$text"
    expect_contains "subject" "CN = t1.s1" "$text"
    expect_contains "not a CA" "CA:FALSE" "$text"
    expect_contains "keyUsage" "Digital Signature" "$text"
    expect_contains "verify before revoke" "OK" "$(verify_dev "$DEV")"
    kassa ca issue --dir "$CA" --store s1 --node t2 --out "$TEST_TMP/dev-t2" >/dev/null
    expect_eq "index lines" 2 "$(wc -l <"$CA/index.txt")"

    expect_fail --grep 'already exists' kassa ca issue --dir "$CA" --store s1 --node t1 --out "$DEV"
    expect_fail --grep 'invalid store id' \
        kassa ca issue --dir "$CA" --store 's 1' --node t1 --out "$TEST_TMP/x"
    expect_fail --grep 'invalid node id' \
        kassa ca issue --dir "$CA" --store s1 --node 't/1' --out "$TEST_TMP/x"
    expect_fail --grep 'invalid node id' \
        kassa ca issue --dir "$CA" --store s1 --node '' --out "$TEST_TMP/x"
    [ ! -e "$TEST_TMP/x" ] || fail "a refused issue created its directory"
    expect_eq "index lines after refusals" 2 "$(wc -l <"$CA/index.txt")"
}

section_revoke()
{
    local out
    out=$(kassa ca revoke --dir "$CA" --store s1 --node t1)
    expect_contains "revoke output" "revoked 1 certificate" "$out"
    if verify_dev "$DEV" >/dev/null 2>&1; then
        fail "openssl verify accepts a revoked certificate"
    fi
    local refused
    refused=$(verify_dev "$DEV" 2>&1 || true)
    expect_contains "refused as revoked" "certificate revoked" "$refused"
    # t2 is unaffected.
    expect_contains "t2 still valid" "OK" "$(verify_dev "$TEST_TMP/dev-t2")"
    # Regenerating the CRL keeps the revocation.
    kassa ca crl --dir "$CA" >/dev/null
    if verify_dev "$DEV" >/dev/null 2>&1; then
        fail "revocation lost by ca crl"
    fi
    expect_fail --grep 'no certificate was issued' kassa ca revoke --dir "$CA" --store s1 --node t9
    expect_fail --grep 'invalid store id' kassa ca revoke --dir "$CA" --store 'a:b' --node t1
    local json
    json=$(kassa --json ca revoke --dir "$CA" --store s1 --node t1)
    expect_eq "second revoke" 0 "$(json_field revoked <<<"$json")"
}

run_section "bad input before init" section_bad_input_before_init
run_section "init" section_init
run_section "issue" section_issue
run_section "revoke" section_revoke
finish
