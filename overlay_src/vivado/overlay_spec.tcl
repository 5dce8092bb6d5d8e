# Read host/plutflow/data/overlay.json -- the single source of truth for the overlay's
# VLNV, register map, stream width and build parameters, shared with the Python driver --
# into a Tcl dict. Vivado's Tcl has no JSON package we can rely on, so this is a small
# reader for the JSON subset that file uses (objects, arrays, strings, integers, true/
# false/null). Objects become dicts, arrays lists.

proc pf_json_ws {text idx} {
    while {$idx < [string length $text] && [string is space [string index $text $idx]]} {
        incr idx
    }
    return $idx
}

proc pf_json_value {text idx} {
    set idx [pf_json_ws $text $idx]
    set c [string index $text $idx]
    if {$c eq "\{"} {
        set result [dict create]
        set idx [pf_json_ws $text [expr {$idx + 1}]]
        if {[string index $text $idx] eq "\}"} { return [list $result [expr {$idx + 1}]] }
        while 1 {
            lassign [pf_json_value $text $idx] key idx
            set idx [pf_json_ws $text $idx]
            if {[string index $text $idx] ne ":"} { error "overlay spec: ':' expected at $idx" }
            lassign [pf_json_value $text [expr {$idx + 1}]] value idx
            dict set result $key $value
            set idx [pf_json_ws $text $idx]
            set c [string index $text $idx]
            incr idx
            if {$c eq "\}"} { return [list $result $idx] }
            if {$c ne ","} { error "overlay spec: ',' or '\}' expected at $idx" }
        }
    } elseif {$c eq "\["} {
        set result [list]
        set idx [pf_json_ws $text [expr {$idx + 1}]]
        if {[string index $text $idx] eq "\]"} { return [list $result [expr {$idx + 1}]] }
        while 1 {
            lassign [pf_json_value $text $idx] value idx
            lappend result $value
            set idx [pf_json_ws $text $idx]
            set c [string index $text $idx]
            incr idx
            if {$c eq "\]"} { return [list $result $idx] }
            if {$c ne ","} { error "overlay spec: ',' or '\]' expected at $idx" }
        }
    } elseif {$c eq "\""} {
        set end [string first "\"" $text [expr {$idx + 1}]]
        return [list [string range $text [expr {$idx + 1}] [expr {$end - 1}]] [expr {$end + 1}]]
    } elseif {[regexp -- {^-?[0-9]+} [string range $text $idx end] num]} {
        return [list $num [expr {$idx + [string length $num]}]]
    } else {
        foreach {word value} {true 1 false 0 null {}} {
            if {[string range $text $idx [expr {$idx + [string length $word] - 1}]] eq $word} {
                return [list $value [expr {$idx + [string length $word]}]]
            }
        }
        error "overlay spec: unexpected character '$c' at $idx"
    }
}

# the spec as a dict; e.g. [dict get $spec vlnv], [dict get $spec registers AP_CTRL]
proc pf_load_overlay_spec {path} {
    set fh [open $path r]
    set text [read $fh]
    close $fh
    return [lindex [pf_json_value $text 0] 0]
}

# the Verilog parameters of pf_accel for the board build, as "NAME VALUE" pairs
proc pf_rtl_parameters {spec} {
    set ov [dict get $spec board_overlay]
    set types {int8 0 shift 1 plut 2 plut-lutram 3}
    return [list \
        PE_TYPE [dict get $types [dict get $ov pe_type]] \
        P [dict get $ov p] \
        DATA_W [dict get $ov data_w] \
        WBITS [dict get $ov wbits] \
        B2 [dict get $ov b2] \
        ABITS [dict get $ov abits] \
        ADEPTH [dict get $ov adepth] \
        WDEPTH [dict get $ov wdepth] \
        MDEPTH [dict get $ov mdepth] \
        OF_DEPTH [dict get $ov of_depth]]
}

# repository root: two levels above this script
set pf_root [file normalize [file join [file dirname [info script]] .. ..]]
set pf_spec_file [file join $pf_root host plutflow data overlay.json]
