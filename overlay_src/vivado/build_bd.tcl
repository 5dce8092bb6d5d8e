# The KV260 block design: Zynq UltraScale+ PS with the KV260 board preset, an AXI DMA in
# simple mode with a stream as wide as overlay.json says, SmartConnects for control and
# data, the plutflow IP at 250 MHz, and the interrupts.
# Sourced by build.tcl (after package_ip.tcl); expects $spec, $out_dir and $ip_dir.

proc pf_create_project {spec out_dir ip_dir} {
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

proc pf_create_bd {spec} {
    set width [dict get $spec stream_width]
    set mhz [dict get $spec clock_mhz]
    create_bd_design plutflow

    # processing system with the KV260 preset; one 250 MHz fabric clock, HPM0 for control,
    # HP0 for the DMA's memory traffic, PL-to-PS interrupts
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

    set accel [create_bd_cell -type ip -vlnv [dict get $spec vlnv] [dict get $spec ip_instance]]
    foreach {param value} [pf_rtl_parameters $spec] {
        set_property CONFIG.$param $value $accel
    }

    set dma [create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma [dict get $spec dma_instance]]
    set_property -dict [list \
        CONFIG.c_include_sg {0} \
        CONFIG.c_sg_length_width {26} \
        CONFIG.c_m_axi_mm2s_data_width $width \
        CONFIG.c_m_axis_mm2s_tdata_width $width \
        CONFIG.c_m_axi_s2mm_data_width $width \
        CONFIG.c_mm2s_burst_size {64} \
        CONFIG.c_s2mm_burst_size {64} \
    ] $dma

    set rst [create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset rst_pl0]
    set ctrl_ic [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect ctrl_smc]
    set_property -dict [list CONFIG.NUM_SI {1} CONFIG.NUM_MI {2}] $ctrl_ic
    set data_ic [create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect data_smc]
    set_property -dict [list CONFIG.NUM_SI {2} CONFIG.NUM_MI {1}] $data_ic
    set irq [create_bd_cell -type ip -vlnv xilinx.com:ip:xlconcat irq_concat]
    set_property CONFIG.NUM_PORTS {3} $irq

    # clock and reset
    set clk [get_bd_pins zynq_ultra_ps_e_0/pl_clk0]
    connect_bd_net $clk [get_bd_pins rst_pl0/slowest_sync_clk] \
        [get_bd_pins zynq_ultra_ps_e_0/maxihpm0_fpd_aclk] \
        [get_bd_pins zynq_ultra_ps_e_0/saxihp0_fpd_aclk] \
        [get_bd_pins $accel/ap_clk] [get_bd_pins $dma/s_axi_lite_aclk] \
        [get_bd_pins $dma/m_axi_mm2s_aclk] [get_bd_pins $dma/m_axi_s2mm_aclk] \
        [get_bd_pins ctrl_smc/aclk] [get_bd_pins data_smc/aclk]
    connect_bd_net [get_bd_pins zynq_ultra_ps_e_0/pl_resetn0] [get_bd_pins rst_pl0/ext_reset_in]
    connect_bd_net [get_bd_pins rst_pl0/peripheral_aresetn] [get_bd_pins $accel/ap_rst_n] \
        [get_bd_pins $dma/axi_resetn] [get_bd_pins ctrl_smc/aresetn] \
        [get_bd_pins data_smc/aresetn]

    # control: PS -> SmartConnect -> accelerator registers and DMA registers
    connect_bd_intf_net [get_bd_intf_pins zynq_ultra_ps_e_0/M_AXI_HPM0_FPD] \
        [get_bd_intf_pins ctrl_smc/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins ctrl_smc/M00_AXI] [get_bd_intf_pins $accel/s_axi_control]
    connect_bd_intf_net [get_bd_intf_pins ctrl_smc/M01_AXI] [get_bd_intf_pins $dma/S_AXI_LITE]

    # data: DMA <-> memory through HP0; DMA <-> accelerator streams
    connect_bd_intf_net [get_bd_intf_pins $dma/M_AXI_MM2S] [get_bd_intf_pins data_smc/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins $dma/M_AXI_S2MM] [get_bd_intf_pins data_smc/S01_AXI]
    connect_bd_intf_net [get_bd_intf_pins data_smc/M00_AXI] \
        [get_bd_intf_pins zynq_ultra_ps_e_0/S_AXI_HP0_FPD]
    connect_bd_intf_net [get_bd_intf_pins $dma/M_AXIS_MM2S] [get_bd_intf_pins $accel/s_axis]
    connect_bd_intf_net [get_bd_intf_pins $accel/m_axis] [get_bd_intf_pins $dma/S_AXIS_S2MM]

    # interrupts: accelerator ap_done, DMA MM2S and S2MM completion
    connect_bd_net [get_bd_pins $accel/interrupt] [get_bd_pins irq_concat/In0]
    connect_bd_net [get_bd_pins $dma/mm2s_introut] [get_bd_pins irq_concat/In1]
    connect_bd_net [get_bd_pins $dma/s2mm_introut] [get_bd_pins irq_concat/In2]
    connect_bd_net [get_bd_pins irq_concat/dout] [get_bd_pins zynq_ultra_ps_e_0/pl_ps_irq0]

    assign_bd_address
    validate_bd_design
    save_bd_design
}
