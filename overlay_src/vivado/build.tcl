# plutflow KV260 bitstream: package the IP, create the block design, synthesise,
# implement and export <name>.bit and <name>.hwh (same base name, as PYNQ expects).
#   make -C overlay_src bitstream [OVERLAY=int8|shift|plut|plut-lutram]
#   vivado -mode batch -source overlay_src/vivado/build.tcl -tclargs <out_dir> [jobs] [overlay]
# The overlay is a named configuration of the contract (default: the board overlay).

set pf_library_mode 1
source [file join [file dirname [info script]] package_ip.tcl]
source [file join [file dirname [info script]] build_bd.tcl]

set version [version -short]
if {[package vcompare [lindex [split $version .] 0].[lindex [split $version .] 1] 2022.2] < 0} {
    error "plutflow needs Vivado 2022.2 or newer (this is $version)"
}
set out_dir [expr {[llength $argv] > 0 ? [file normalize [lindex $argv 0]] : [file join $pf_root overlay_src build]}]
set jobs [expr {[llength $argv] > 1 ? [lindex $argv 1] : 4}]
set pf_overlay [expr {[llength $argv] > 2 ? [lindex $argv 2] : ""}]
puts "plutflow: building the '[pf_overlay_name]' overlay ([pf_rtl_parameters])"
file mkdir $out_dir

set ip_dir [pf_package_ip $out_dir]
pf_create_project $out_dir $ip_dir
pf_create_bd

set bd_file [get_files plutflow.bd]
make_wrapper -files $bd_file -top
add_files -norecurse [file join [file dirname $bd_file] hdl plutflow_wrapper.v]
set_property top plutflow_wrapper [current_fileset]
generate_target all $bd_file

launch_runs impl_1 -to_step write_bitstream -jobs $jobs
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
    error "implementation failed: see [get_property DIRECTORY [get_runs impl_1]]"
}
set wns [get_property STATS.WNS [get_runs impl_1]]
puts "plutflow: timing WNS $wns ns at [dict get $pf_contract clock_mhz] MHz"

# export: plutflow.bit + plutflow.hwh
set bit [glob [file join [get_property DIRECTORY [get_runs impl_1]] *.bit]]
set hwh [lindex [get_files -quiet -all -of_objects $bd_file plutflow.hwh] 0]
if {$hwh eq ""} {  # older layouts: <project>.srcs or <project>.gen
    set hwh [lindex [glob [file join $out_dir project * sources_1 bd plutflow hw_handoff plutflow.hwh]] 0]
}
file copy -force $bit [file join $out_dir plutflow.bit]
file copy -force $hwh [file join $out_dir plutflow.hwh]
puts "plutflow: wrote [file join $out_dir plutflow.bit] and plutflow.hwh"
