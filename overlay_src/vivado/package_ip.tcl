# Package the plutflow RTL as a Vivado IP with the VLNV of the contract.
#   vivado -mode batch -source overlay_src/vivado/package_ip.tcl -tclargs <out_dir>
# (build.tcl sources it; the out_dir then holds ip/ with component.xml)
# Every fact of the hardware contract comes from pf_contract.tcl, generated from
# host/plutflow/data/overlay.json (python -m plutflow.overlay.contract --write).

source [file join [file dirname [info script]] pf_contract.tcl]
set pf_root [file normalize [file join [file dirname [info script]] .. ..]]

# the overlay configuration this build is for: $pf_overlay (build.tcl's third argument,
# `make bitstream OVERLAY=shift`), else the contract's board overlay
proc pf_overlay_name {} {
    global pf_contract pf_overlay
    set name [expr {[info exists pf_overlay] && $pf_overlay ne "" ? $pf_overlay \
                    : [dict get $pf_contract board_overlay]}]
    if {![dict exists $pf_contract overlays $name]} {
        error "unknown overlay '$name': one of [dict keys [dict get $pf_contract overlays]]"
    }
    return $name
}

# the Verilog parameters of pf_accel for this build, as "NAME VALUE" pairs
proc pf_rtl_parameters {} {
    global pf_contract
    return [dict get $pf_contract overlays [pf_overlay_name] params]
}

# the width of the overlay's memory port (and of the HP port it is wired to)
proc pf_data_bits {} {
    global pf_contract
    return [dict get $pf_contract overlays [pf_overlay_name] data_bits]
}

proc pf_package_ip {out_dir} {
    global pf_root pf_contract
    lassign [split [dict get $pf_contract vlnv] :] vendor library name version
    set top [dict get $pf_contract top]
    create_project -force pf_ip [file join $out_dir ip_project] -part xck26-sfvc784-2LV-c
    foreach f [dict get $pf_contract rtl] {
        add_files -norecurse [file join $pf_root overlay_src rtl $f]
    }
    set_property file_type {Verilog Header} [get_files *.vh]
    set_property top $top [current_fileset]
    update_compile_order -fileset sources_1

    set ip_dir [file join $out_dir ip]
    ipx::package_project -root_dir $ip_dir -vendor $vendor -library $library \
        -taxonomy /plutflow -import_files -set_current true
    set core [ipx::current_core]
    set_property name $name $core
    set_property version $version $core
    set_property display_name "plutflow overlay" $core
    set_property description \
        "Quantized CNN overlay: programs of tiles from memory; int8, shift and P-LUT PEs" $core

    # HLS-style ports: clock, active-low reset, interrupt; the AXI4-Lite slave
    # (s_axi_control_*) and the AXI4 master (m_axi_gmem_*) are inferred from their prefixes
    ipx::infer_bus_interface ap_clk xilinx.com:signal:clock_rtl:1.0 $core
    ipx::infer_bus_interface ap_rst_n xilinx.com:signal:reset_rtl:1.0 $core
    ipx::infer_bus_interface interrupt xilinx.com:signal:interrupt_rtl:1.0 $core
    set_property value ACTIVE_LOW [ipx::get_bus_parameters POLARITY \
        -of_objects [ipx::get_bus_interfaces ap_rst_n -of_objects $core]]
    set_property value LEVEL_HIGH [ipx::get_bus_parameters SENSITIVITY \
        -of_objects [ipx::get_bus_interfaces interrupt -of_objects $core]]
    ipx::associate_bus_interfaces -busif s_axi_control -clock ap_clk $core
    ipx::associate_bus_interfaces -busif m_axi_gmem -clock ap_clk $core

    # the register map (docs/spec.md section 8) as one address block
    set mm [ipx::add_memory_map s_axi_control $core]
    set_property slave_memory_map_ref s_axi_control \
        [ipx::get_bus_interfaces s_axi_control -of_objects $core]
    set blk [ipx::add_address_block control $mm]
    set_property range 4096 $blk
    set_property width 32 $blk

    # the master's address space: the whole 40-bit PS address map
    set as [ipx::add_address_space m_axi_gmem $core]
    set_property master_address_space_ref m_axi_gmem \
        [ipx::get_bus_interfaces m_axi_gmem -of_objects $core]
    set_property range [expr {1 << [dict get $pf_contract addr_bits]}] $as
    set_property width [pf_data_bits] $as

    # build parameters: defaults of the chosen overlay configuration
    foreach {param value} [pf_rtl_parameters] {
        set p [ipx::get_user_parameters $param -of_objects $core]
        if {$p ne ""} { set_property value $value $p }
    }
    ipx::create_xgui_files $core
    ipx::update_checksums $core
    ipx::check_integrity $core
    ipx::save_core $core
    close_project
    return $ip_dir
}

# run directly (not sourced by build.tcl): package now
if {![info exists pf_library_mode]} {
    set out_dir [expr {[llength $argv] > 0 ? [file normalize [lindex $argv 0]] \
                       : [file join $pf_root overlay_src build]}]
    pf_package_ip $out_dir
}
