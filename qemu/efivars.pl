#!/usr/bin/perl
# efivars.pl VARS.fd: the live variables of an OVMF variable store (the
# firmware volume QEMU's second pflash holds), one a line, sorted:
#   GUID NAME ATTRIBUTES SHA256-OF-DATA [DATA-IN-HEX, when 16 bytes or less]
# so that two stores can be compared variable by variable (make demo
# BOOT=uefi). Layout: EDK2's firmware volume header (its length at 0x30),
# the variable store header (28 bytes), then authenticated variable headers
# (60 bytes: start id 0x55AA, state, attributes, counters, time, name and
# data sizes, vendor GUID), each followed by its UTF-16 name and its data,
# 4-byte aligned. A variable is live when its state is VAR_ADDED (0x3f).
use strict;
use warnings;
use Digest::SHA qw(sha256_hex);

my $path = shift or die "usage: efivars.pl VARS.fd\n";
open(my $fh, '<:raw', $path) or die "efivars.pl: $path: $!\n";
local $/;
my $d = <$fh>;
close($fh);

sub guid {
	my ($b) = @_;
	my ($a, $b2, $c, $rest) = unpack('V v v a8', $b);
	my $h = unpack('H*', $rest);
	return sprintf('%08x-%04x-%04x-%s-%s', $a, $b2, $c, substr($h, 0, 4), substr($h, 4));
}

length($d) >= 0x40 && substr($d, 0x28, 4) eq '_FVH' or die "efivars.pl: $path: not a firmware volume\n";
my $store = unpack('v', substr($d, 0x30, 2));
my $size = unpack('V', substr($d, $store + 16, 4));
my $end = $store + $size;
$end = length($d) if $end > length($d);
my @out;
for (my $p = $store + 28; $p + 60 <= $end;) {
	my ($start, $state, undef, $attr) = unpack('v C C V', substr($d, $p, 8));
	last if $start != 0x55aa;
	my ($name_size, $data_size) = unpack('V V', substr($d, $p + 36, 8));
	my $vendor = guid(substr($d, $p + 44, 16));
	my $name = substr($d, $p + 60, $name_size);
	my $data = substr($d, $p + 60 + $name_size, $data_size);
	$name =~ s/\0\0$//;
	$name = join('', map { chr } unpack('v*', $name));
	push @out, sprintf("%s %s 0x%x %s%s", $vendor, $name, $attr, sha256_hex($data),
		$data_size <= 16 ? ' ' . unpack('H*', $data) : '') if $state == 0x3f;
	$p = ($p + 60 + $name_size + $data_size + 3) & ~3;
}
print "$_\n" for sort @out;
