# Generated from host/plutflow/data/overlay.json by plutflow.overlay.contract;
# do not edit (python -m plutflow.overlay.contract --write).
set pf_contract [dict create \
    vlnv plutflow.org:plutflow:pf_accel:2.0 \
    ip_instance pf_accel_0 \
    top pf_accel \
    clock_mhz 250 \
    addr_bits 40 \
    rtl {pf_contract.vh pf_tree.vh pf_accel.v pf_ctrl_axil.v pf_engine.v pf_axi_rd.v pf_axi_wr.v pf_loader.v pf_mul.v pf_seq.v pf_datapath.v pf_pe_array.v pf_addtree.v pf_vector.v pf_requant.v} \
    registers {AP_CTRL 0 GIE 4 IER 8 ISR 12 ID 16 VERSION 20 PE_CONFIG 24 STATUS 28 CYCLES_LO 32 CYCLES_HI 36 STALLS_LO 40 STALLS_HI 44 BUF_CONFIG 48 BUF_CONFIG2 52 COMPUTE_LO 56 COMPUTE_HI 60 PROG_ADDR 64 PROG_COUNT 68 MEM_BASE_LO 72 MEM_BASE_HI 76 MEM_SIZE 80 CUR_DESC 84 RD_BYTES_LO 88 RD_BYTES_HI 92 WR_BYTES_LO 96 WR_BYTES_HI 100 ERR_ADDR 104 TIMEOUT 108 DONE_DESC 112} \
    board_overlay int8 \
    overlays [dict create \
        int8 {params {PE_TYPE 0 P 16 WBITS 8 B2 3 ABITS 4 INT8_PATH 1 ADEPTH 8192 WDEPTH 2048 MDEPTH 256 PDEPTH 2048 TSLOTS 8} data_bits 128} \
        shift {params {PE_TYPE 1 P 16 WBITS 7 B2 3 ABITS 4 INT8_PATH 1 ADEPTH 8192 WDEPTH 2048 MDEPTH 256 PDEPTH 2048 TSLOTS 8} data_bits 128} \
        plut {params {PE_TYPE 2 P 16 WBITS 5 B2 3 ABITS 4 INT8_PATH 1 ADEPTH 8192 WDEPTH 2048 MDEPTH 256 PDEPTH 2048 TSLOTS 8} data_bits 128} \
        plut-lutram {params {PE_TYPE 3 P 16 WBITS 4 B2 3 ABITS 4 INT8_PATH 1 ADEPTH 8192 WDEPTH 2048 MDEPTH 256 PDEPTH 2048 TSLOTS 8} data_bits 128} \
    ]]
