# SPDX-License-Identifier: Apache-2.0
#
# smaps-by-file.awk: one process's /proc/PID/smaps summed by what is mapped
# (the file, or [heap], [stack], [anon], [vdso] ...), one line each:
#
#   who=WHO file=PATH rss=KiB pss=KiB pd=KiB pc=KiB sd=KiB sc=KiB an=KiB
#
# pd/pc: Private_Dirty/Private_Clean, sd/sc: Shared_Dirty/Shared_Clean,
# an: Anonymous (heap, stack, .bss and the copies of file pages written to,
# relocated data: what the kernel cannot drop and read back from a file), and
# a last line with file=TOTAL. Plain POSIX awk (busybox's too): the guest
# runner (tests/vm/guest-tests.sh) uses it as bench/footprint does on the
# host.
#
#   awk -v who=front-end -f smaps-by-file.awk /proc/PID/smaps
/^[0-9a-f]+-[0-9a-f]+ / {
	f = (NF >= 6) ? $6 : "[anon]"
	for (i = 7; i <= NF; i++)
		f = f "_" $i
	if (!(f in rss))
		order[++n] = f
	rss[f] += 0
	next
}
$1 == "Rss:" { rss[f] += $2; t_rss += $2 }
$1 == "Pss:" { pss[f] += $2; t_pss += $2 }
$1 == "Private_Dirty:" { pd[f] += $2; t_pd += $2 }
$1 == "Private_Clean:" { pc[f] += $2; t_pc += $2 }
$1 == "Shared_Dirty:" { sd[f] += $2; t_sd += $2 }
$1 == "Shared_Clean:" { sc[f] += $2; t_sc += $2 }
$1 == "Anonymous:" { an[f] += $2; t_an += $2 }
END {
	for (i = 1; i <= n; i++) {
		f = order[i]
		printf "who=%s file=%s rss=%d pss=%d pd=%d pc=%d sd=%d sc=%d an=%d\n", who, f,
		    rss[f], pss[f], pd[f], pc[f], sd[f], sc[f], an[f]
	}
	printf "who=%s file=TOTAL rss=%d pss=%d pd=%d pc=%d sd=%d sc=%d an=%d\n", who, t_rss,
	    t_pss, t_pd, t_pc, t_sd, t_sc, t_an
}
