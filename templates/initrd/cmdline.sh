# xenroot built-in initrd: reading the kernel command line (sourced by /init; docs/cmdline.md).
# busybox ash. Functions only: nothing runs when this file is sourced.
#
#   xr_read_cmdline "TEXT"   sets ROOTARG NFSROOTARG IPARG BOOTIF MARKER RD_SHELL RD_BREAK OVERLAY
#                            EXTRA_MODULES RW from the command line TEXT (the last of each wins)
#   xr_root_form             classifies the root: ROOTFORM = nfs | nfsroot | dhcp; NFSVER, and for
#                            the forms that carry them SERVER NFSPATH NFSOPTS. Returns 1 with
#                            XR_PROBLEM set when the command line names no root this initrd reads.
#   xr_ip_form               classifies ip=: IP_MODE = dhcp | static, IP_DEVICE, and for static
#                            IP_CLIENT IP_PREFIX IP_GATEWAY IP_HOST IP_SERVER IP_DNS. Returns 1 with
#                            XR_PROBLEM set for an ip= it cannot honour.
#   xr_root_resolve          after the network is up (IPADDR, and from DHCP DHCP_SIADDR,
#                            DHCP_SERVERID, DHCP_ROOTPATH): fills in SERVER, NFSPATH, NFSOPTS and
#                            NFSVER from DHCP where the command line left them out. Returns 1 with
#                            XR_PROBLEM set when no server or path can be found.
#
# Root forms (what an admin may already have): root=nfs:SERVER:/PATH[:OPTS] (v3),
# root=nfs4:SERVER:/PATH[:OPTS] (v4), root=/dev/nfs nfsroot=[SERVER:]PATH[,OPTS] and the kernel's
# nfsroot=[SERVER:]PATH[,OPTS] alone (v3; vers= decides), root=/dev/nfs or root=dhcp alone (the
# DHCP root-path), root=SERVER:/PATH[:OPTS] (the HOWTO's, v3). vers=/nfsvers= in OPTS wins over the
# prefix. A missing server comes from the root-path, else the DHCP next-server, else the DHCP server.

xr_read_cmdline() {
	ROOTARG= ; NFSROOTARG= ; IPARG= ; BOOTIF= ; MARKER= ; RD_SHELL= ; RD_BREAK= ; OVERLAY=1; EXTRA_MODULES= ; RW=
	for arg in $1; do
		case "$arg" in
			root=*) ROOTARG="${arg#root=}" ;;
			nfsroot=*) NFSROOTARG="${arg#nfsroot=}" ;;
			ip=*) IPARG="${arg#ip=}" ;;
			BOOTIF=*) BOOTIF="${arg#BOOTIF=}" ;;
			xenroot.marker=*) MARKER="${arg#xenroot.marker=}" ;;
			xenroot.overlay=*) OVERLAY="${arg#xenroot.overlay=}" ;;
			xenroot.modules=*) EXTRA_MODULES="${arg#xenroot.modules=}" ;;
			rd.shell|rd.shell=1) RD_SHELL=1 ;;
			rd.shell=0) RD_SHELL= ;;
			rd.break|rd.break=1) RD_BREAK=1 ;;
			rw) RW=1 ;;
			ro) RW= ;;
		esac
	done
	:
}

# The version an options list asks for, else $1.
xr_vers() {
	case ",$NFSOPTS," in
		*,vers=4*|*,nfsvers=4*|*,v4,*) echo 4 ;;
		*,vers=3*|*,nfsvers=3*|*,v3,*) echo 3 ;;
		*,vers=2*|*,nfsvers=2*|*,v2,*) echo 2 ;;
		*) echo "$1" ;;
	esac
}

# [SERVER:]/PATH[:OPTS] (dracut's nfs: / nfs4: syntax) into SERVER NFSPATH NFSOPTS.
xr_split_colon() {
	local spec="$1" rest
	SERVER= ; NFSOPTS=
	case "$spec" in
		/*) rest="$spec" ;;
		*:*) SERVER="${spec%%:*}"; rest="${spec#*:}" ;;
		*) rest="$spec" ;;
	esac
	NFSPATH="${rest%%:*}"
	[ "$NFSPATH" != "$rest" ] && NFSOPTS="${rest#*:}"
	:
}

# The kernel's [SERVER:]PATH[,OPTS] (nfsroot=, the DHCP root-path) into SERVER NFSPATH NFSOPTS.
xr_split_comma() {
	local spec="${1%%,*}"
	SERVER= ; NFSOPTS=
	[ "$spec" != "$1" ] && NFSOPTS="${1#*,}"
	case "$spec" in
		/*) NFSPATH="$spec" ;;
		*:*) SERVER="${spec%%:*}"; NFSPATH="${spec#*:}" ;;
		*) NFSPATH="$spec" ;;
	esac
	:
}

XR_FORMS='root=nfs:SERVER:/PATH[:OPTS], root=nfs4:SERVER:/PATH[:OPTS], root=/dev/nfs nfsroot=[SERVER:]PATH[,OPTS], nfsroot=[SERVER:]PATH[,OPTS], root=/dev/nfs or root=dhcp (DHCP root-path), root=SERVER:/PATH'

xr_root_form() {
	XR_PROBLEM= ; SERVER= ; NFSPATH= ; NFSOPTS= ; NFSVER=
	case "$ROOTARG" in
		nfs4:*) ROOTFORM=nfs; xr_split_colon "${ROOTARG#nfs4:}"; NFSVER=$(xr_vers 4) ;;
		nfs:*) ROOTFORM=nfs; xr_split_colon "${ROOTARG#nfs:}"; NFSVER=$(xr_vers 3) ;;
		/dev/nfs|'')
			if [ -n "$NFSROOTARG" ]; then
				ROOTFORM=nfsroot; xr_split_comma "$NFSROOTARG"; NFSVER=$(xr_vers 3)
			elif [ "$ROOTARG" = /dev/nfs ]; then
				ROOTFORM=dhcp
			else
				XR_PROBLEM="no root= or nfsroot= on the kernel command line (reads: $XR_FORMS)"; return 1
			fi ;;
		dhcp) ROOTFORM=dhcp ;;
		*:/*) ROOTFORM=nfs; xr_split_colon "$ROOTARG"; NFSVER=$(xr_vers 3) ;;
		*) XR_PROBLEM="root=$ROOTARG is not an NFS root this initrd reads (reads: $XR_FORMS)"; return 1 ;;
	esac
	if [ -n "$NFSROOTARG" ] && [ "$ROOTFORM" != nfsroot ]; then
		XR_PROBLEM="root=$ROOTARG and nfsroot=$NFSROOTARG name two roots (nfsroot= goes with root=/dev/nfs or alone)"; return 1
	fi
	if [ "$ROOTFORM" != dhcp ]; then
		case "$NFSPATH" in /*) ;; *) XR_PROBLEM="the NFS path \"$NFSPATH\" of root=${ROOTARG:-/dev/nfs}${NFSROOTARG:+ nfsroot=$NFSROOTARG} must start with /"; return 1 ;; esac
	fi
	case "$NFSVER" in 2) XR_PROBLEM="NFSv2 is not supported (vers=2 in $NFSOPTS)"; return 1 ;; esac
	:
}

# A dotted netmask (or a prefix length) as a prefix length; nothing for a bad one.
xr_prefix() {
	local m="$1" bits=0 o
	case "$m" in
		[0-9]|[12][0-9]|3[0-2]) echo "$m"; return ;;
	esac
	local IFS=.
	set -- $m
	[ $# = 4 ] || return
	for o in "$@"; do
		case "$o" in
			255) bits=$((bits + 8)) ;; 254) bits=$((bits + 7)) ;; 252) bits=$((bits + 6)) ;; 248) bits=$((bits + 5)) ;;
			240) bits=$((bits + 4)) ;; 224) bits=$((bits + 3)) ;; 192) bits=$((bits + 2)) ;; 128) bits=$((bits + 1)) ;; 0) ;;
			*) return ;;
		esac
	done
	echo "$bits"
}

xr_ip_form() {
	XR_PROBLEM= ; IP_MODE=dhcp; IP_DEVICE= ; IP_CLIENT= ; IP_PREFIX= ; IP_GATEWAY= ; IP_HOST= ; IP_SERVER= ; IP_DNS=
	case "$IPARG" in
		''|dhcp|on|any) return 0 ;;
		none|off) XR_PROBLEM="ip=$IPARG: an NFS root needs the network"; return 1 ;;
		*:*) ;;
		*) XR_PROBLEM="ip=$IPARG is not supported by the built-in initrd (reads ip=dhcp, ip=IFACE:dhcp, ip=CLIENT:[SERVER]:GW:MASK:[HOST]:[IFACE]:none)"; return 1 ;;
	esac
	local IFS=:
	set -- $IPARG
	IFS=' '
	# dracut's IFACE:dhcp
	case "$2" in dhcp|on|any) if [ $# -le 4 ]; then IP_DEVICE="$1"; return 0; fi ;; esac
	IP_CLIENT="$1"; IP_SERVER="$2"; IP_GATEWAY="$3"; local mask="$4"; IP_HOST="$5"; IP_DEVICE="$6"; local auto="$7"
	IP_DNS="$8 $9"
	if [ -z "$IP_CLIENT" ]; then
		case "$auto" in ''|dhcp|on|any) return 0 ;; esac
		XR_PROBLEM="ip=$IPARG: autoconf \"$auto\" is not supported by the built-in initrd (dhcp, or a static CLIENT with none)"; return 1
	fi
	case "$auto" in ''|none|off|static) ;; *) XR_PROBLEM="ip=$IPARG: a client address with autoconf \"$auto\" is a contradiction"; return 1 ;; esac
	IP_PREFIX="$(xr_prefix "$mask")"
	[ -n "$IP_PREFIX" ] || { XR_PROBLEM="ip=$IPARG: a static address needs a netmask (field 4)"; return 1; }
	IP_MODE=static
	:
}

xr_root_resolve() {
	XR_PROBLEM=
	if [ "$ROOTFORM" = dhcp ]; then
		local rp="$DHCP_ROOTPATH"
		[ -n "$rp" ] || rp="/tftpboot/%s"
		case "$rp" in
			nfs4:*) xr_split_colon "${rp#nfs4:}"; NFSVER=$(xr_vers 4) ;;
			nfs:*) xr_split_colon "${rp#nfs:}"; NFSVER=$(xr_vers 3) ;;
			*) xr_split_comma "$rp"; NFSVER=$(xr_vers 3) ;;
		esac
	elif [ -z "$SERVER" ] && [ -n "$DHCP_ROOTPATH" ]; then
		# The server the DHCP root-path names, when the command line names none.
		case "$DHCP_ROOTPATH" in
			nfs4:*|nfs:*) local r="${DHCP_ROOTPATH#*:}"; case "$r" in /*) ;; *) SERVER="${r%%:*}" ;; esac ;;
			/*) ;;
			*:*) SERVER="${DHCP_ROOTPATH%%:*}" ;;
		esac
	fi
	[ -n "$SERVER" ] || SERVER="$IP_SERVER"
	[ -n "$SERVER" ] || { [ -n "$DHCP_SIADDR" ] && [ "$DHCP_SIADDR" != 0.0.0.0 ] && SERVER="$DHCP_SIADDR"; }
	[ -n "$SERVER" ] || SERVER="$DHCP_SERVERID"
	[ -n "$SERVER" ] || { XR_PROBLEM="no NFS server: the command line names none and DHCP gave no root-path, next-server or server id"; return 1; }
	case "$NFSPATH" in *%s*) NFSPATH="$(echo "$NFSPATH" | sed "s/%s/$IPADDR/g")" ;; esac
	case "$NFSPATH" in /*) ;; *) XR_PROBLEM="the NFS path \"$NFSPATH\" must start with /"; return 1 ;; esac
	:
}
