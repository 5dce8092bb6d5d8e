# The KV260 block design: Zynq UltraScale+ PS with the KV260 board preset, the plutflow
# overlay at the contract's clock with its registers on HPM0 (through a SmartConnect) and
# its AXI4 master on HP0 (the DDR), and its interrupt on pl_ps_irq0. No DMA: the overlay
# reads and writes memory itself.
# Sourced by build.tcl (after package_ip.tcl); expects $pf_contract, $out_dir and $ip_dir.

proc pf_create_project {out_dir ip_dir} {
    set board [lindex [get_board_parts "*:kv260_som:*" -latest_file_version] 0]
    if {$board eq ""} {
        error "KV260 board files not found: install them (Vivado > Tools > XHub Stores > Boards) and retry"
    }
    create_project -force plutflow_kv260 [file join $out_dir project] \
        -part [get_property PART_NAME [get_board_parts $board]]
    set_property board_part $board [current_project]
    set_property board_connections \
        {som240_1_connector xilinx.com:kv260_carrier:som240_1_connector:1.3} [current_project]
    set_property ip_repo_paths [list $ip_dir] [current_project]
    update_ip_catalog
}

proc pf_create_bd {} {
    global pf_contract
    set width [pf_data_bits]
    set mhz [dict get $pf_contract clock_mhz]
    create_bd_design plutflow

    # processing system with the KV260 preset; one fabric clock, HPM0 for the registers,
    # HP0 (as wide as a beat) for the overlay's memory traffic, PL-to-PS interrupts
    set ps [create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e zynq_ultra_ps_e_0]
    apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e \
        -config {apply_board_preset "1"} $ps
    set_property -dict [list \
        CONFIG.PSU__FPGA_PL0_ENABLE {1} \
        CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $mhz \
        CONFIG.PSU__USE__M_AXI_GP0 {1} \
        CONFIG.PSU__USE__M_AXI_GP1 {0} \
        CONFIG.PSU__USE__M_AXI_GP2 {0} \
        CONFIG.PSU__USE__S_AXI_GP2 {1} \
        CONFIG.PSU__SAXIGP2__DATA_WIDTH $width \
        CONFIG.PSU__USE__IRQ0 {1} \
    ] $ps

    set accel [create_bd_cell -type ip -vlnv [dict get $pf_contract vlnv] \
        [dict get $pf_contract ip_instance]]
    foreach {param value} [pf_rtl_parameters] {
        set_property CONFIG.$param $value $accel
    }

    set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset rst_pl0]
    set ctrl_ic [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect ctrl_smc]
    set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] $ctrl_ic
    set data_ic [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect data_smc]
    set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {1}] $data_ic

    # clock and reset
    set clk [get_bd_pins zynq_ultra_ps_e_0/pl_clk0]
    connect_bd_net $clk [get_bd_pins rst_pl0/slowest_sync_clk] \
        [get_bd_pins zynq_ultra_ps_e_0/maxihpm0_fpd_aclk] \
        [get_bd_pins zynq_ultra_ps_e_0/saxihp0_fpd_aclk] \
        [get_bd_pins $accel/ap_clk] [get_bd_pins ctrl_smc/aclk] [get_bd_pins data_smc/aclk]
    connect_bd_net [get_bd_pins zynq_ultra_ps_e_0/pl_resetn0] [get_bd_pins rst_pl0/ext_reset_in]
    connect_bd_net [get_bd_pins rst_pl0/peripheral_aresetn] [get_bd_pins $accel/ap_rst_n] \
        [get_bd_pins ctrl_smc/aresetn] [get_bd_pins data_smc/aresetn]

    # control: PS -> SmartConnect -> the overlay's registers
    connect_bd_intf_net [get_bd_intf_pins zynq_ultra_ps_e_0/M_AXI_HPM0_FPD] \
        [get_bd_intf_pins ctrl_smc/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins ctrl_smc/M00_AXI] [get_bd_intf_pins $accel/s_axi_control]

    # data: the overlay's master -> SmartConnect -> HP0 (DDR)
    connect_bd_intf_net [get_bd_intf_pins $accel/m_axi_gmem] [get_bd_intf_pins data_smc/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins data_smc/M00_AXI] \
        [get_bd_intf_pins zynq_ultra_ps_e_0/S_AXI_HP0_FPD]

    # interrupt: ap_done
    connect_bd_net [get_bd_pins $accel/interrupt] [get_bd_pins zynq_ultra_ps_e_0/pl_ps_irq0]

    assign_bd_address
    validate_bd_design
    save_bd_design
}
