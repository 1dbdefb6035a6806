// Package retention decides which backups to keep: the last N, plus the
// newest backup of each of the last D days, W ISO weeks and M months (the
// "grandfather-father-son" scheme restic's forget policy also uses). It is a
// pure function over a list; callers delete what it says to prune.
//
// One rule overrides the policy: the newest backup that has been verified is
// never pruned, so a policy that would keep only unverified (possibly broken)
// archives still leaves one known-good restore point.
package retention
