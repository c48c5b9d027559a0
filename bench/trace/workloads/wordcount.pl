#!/usr/bin/perl
# Text-tool workload for `bench/trace/record --preset perl`: word frequencies
# of the files named (all read as text), the 20 most frequent printed.
use strict;
use warnings;

my %count;
my $total = 0;
while (my $line = <>) {
    for my $w ($line =~ /([A-Za-z_][A-Za-z0-9_]*)/g) {
        $count{lc $w}++;
        $total++;
    }
}
my @top = sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count;
printf "%d words, %d distinct\n", $total, scalar @top;
my $n = @top < 20 ? scalar @top : 20;
printf "%8d %s\n", $count{$_}, $_ for @top[0 .. $n - 1];
