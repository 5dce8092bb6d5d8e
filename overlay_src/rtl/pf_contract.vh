// GENERATED from host/plutflow/data/overlay.json by plutflow.overlay.contract;
// do not edit. Regenerate: python -m plutflow.overlay.contract --write
`ifndef PF_CONTRACT_VH
`define PF_CONTRACT_VH

`define PF_ID 32'h504C5546
`define PF_VERSION 32'h00020000
`define PF_DESC_WORDS 32
`define PF_DESC_BITS 1024
`define PF_DESC_MAGIC 16'h5046
`define PF_DESC_VERSION 4'd2
`define PF_MAX_BURST 256
`define PF_BOUNDARY 4096
`define PF_ADDR_BITS 40

// control registers (byte offsets)
`define PF_REG_AP_CTRL 8'h00
`define PF_REG_GIE 8'h04
`define PF_REG_IER 8'h08
`define PF_REG_ISR 8'h0C
`define PF_REG_ID 8'h10
`define PF_REG_VERSION 8'h14
`define PF_REG_PE_CONFIG 8'h18
`define PF_REG_STATUS 8'h1C
`define PF_REG_CYCLES_LO 8'h20
`define PF_REG_CYCLES_HI 8'h24
`define PF_REG_STALLS_LO 8'h28
`define PF_REG_STALLS_HI 8'h2C
`define PF_REG_BUF_CONFIG 8'h30
`define PF_REG_BUF_CONFIG2 8'h34
`define PF_REG_COMPUTE_LO 8'h38
`define PF_REG_COMPUTE_HI 8'h3C
`define PF_REG_PROG_ADDR 8'h40
`define PF_REG_PROG_COUNT 8'h44
`define PF_REG_MEM_BASE_LO 8'h48
`define PF_REG_MEM_BASE_HI 8'h4C
`define PF_REG_MEM_SIZE 8'h50
`define PF_REG_CUR_DESC 8'h54
`define PF_REG_RD_BYTES_LO 8'h58
`define PF_REG_RD_BYTES_HI 8'h5C
`define PF_REG_WR_BYTES_LO 8'h60
`define PF_REG_WR_BYTES_HI 8'h64
`define PF_REG_ERR_ADDR 8'h68
`define PF_REG_TIMEOUT 8'h6C
`define PF_REG_DONE_DESC 8'h70

// register fields: bit position and width
`define PF_PE_CONFIG_PE_TYPE_LO 0
`define PF_PE_CONFIG_PE_TYPE_W 4
`define PF_PE_CONFIG_P_LO 4
`define PF_PE_CONFIG_P_W 8
`define PF_PE_CONFIG_WBITS_LO 12
`define PF_PE_CONFIG_WBITS_W 4
`define PF_PE_CONFIG_ABITS_LO 16
`define PF_PE_CONFIG_ABITS_W 4
`define PF_PE_CONFIG_B2_LO 20
`define PF_PE_CONFIG_B2_W 4
`define PF_PE_CONFIG_INT8_PATH_LO 24
`define PF_PE_CONFIG_INT8_PATH_W 1
`define PF_BUF_CONFIG_LOG2_ADEPTH_LO 0
`define PF_BUF_CONFIG_LOG2_ADEPTH_W 8
`define PF_BUF_CONFIG_LOG2_WDEPTH_LO 8
`define PF_BUF_CONFIG_LOG2_WDEPTH_W 8
`define PF_BUF_CONFIG_LOG2_MDEPTH_LO 16
`define PF_BUF_CONFIG_LOG2_MDEPTH_W 8
`define PF_BUF_CONFIG_LOG2_PDEPTH_LO 24
`define PF_BUF_CONFIG_LOG2_PDEPTH_W 8
`define PF_BUF_CONFIG2_TSLOTS_LO 0
`define PF_BUF_CONFIG2_TSLOTS_W 8
`define PF_BUF_CONFIG2_LOG2_MAX_BURST_LO 8
`define PF_BUF_CONFIG2_LOG2_MAX_BURST_W 8

// error codes (STATUS bits 0-7) and failing units (bits 8-15)
`define PF_E_OK 8'd0
`define PF_E_MAGIC 8'd1
`define PF_E_FORMAT 8'd2
`define PF_E_SIZE 8'd3
`define PF_E_ADDR 8'd4
`define PF_E_KIND 8'd5
`define PF_E_RRESP 8'd6
`define PF_E_BRESP 8'd7
`define PF_E_TIMEOUT 8'd8
`define PF_U_FETCH 8'd1
`define PF_U_LOAD 8'd2
`define PF_U_COMPUTE 8'd3
`define PF_U_STORE 8'd4

// descriptor kinds
`define PF_K_CONV 4'd1
`define PF_K_DW 4'd2
`define PF_K_MAXPOOL 4'd3
`define PF_K_SUMPOOL 4'd4
`define PF_K_ADD 4'd5
`define PF_K_MUL 4'd6
`define PF_K_COPY 4'd7

// descriptor flags (bit of the FLAGS field)
`define PF_F_BARRIER 0
`define PF_F_LOAD_W 1
`define PF_F_LOAD_A 2
`define PF_F_LOAD_B 3
`define PF_F_WBANK 4
`define PF_F_ABANK 5
`define PF_F_PSUM_FIRST 6
`define PF_F_PSUM_LAST 7
`define PF_F_TABLE 8
`define PF_F_TABLE_PER_CH 9
`define PF_F_W_SIGNED 10
`define PF_F_A_SIGNED 11
`define PF_F_B_SIGNED 12
`define PF_F_INT8_PATH 13
`define PF_F_B_BCAST 14
`define PF_F_RQ_PER_CH 15

// descriptor fields: `PF_D_<NAME>(d) is the field's bits of descriptor d
`define PF_D_MAGIC(d) d[15:0]
`define PF_D_KIND(d) d[19:16]
`define PF_D_VERSION(d) d[23:20]
`define PF_D_FLAGS(d) d[47:32]
`define PF_D_WBITS(d) d[67:64]
`define PF_D_B2(d) d[71:68]
`define PF_D_ABITS(d) d[75:72]
`define PF_D_FSHIFT(d) d[80:76]
`define PF_D_FIELD_W(d) d[87:84]
`define PF_D_IH(d) d[111:96]
`define PF_D_IW(d) d[127:112]
`define PF_D_ICG(d) d[143:128]
`define PF_D_OMG(d) d[159:144]
`define PF_D_OH(d) d[175:160]
`define PF_D_OW(d) d[191:176]
`define PF_D_KH(d) d[199:192]
`define PF_D_KW(d) d[207:200]
`define PF_D_SH(d) d[211:208]
`define PF_D_SW(d) d[215:212]
`define PF_D_DH(d) d[219:216]
`define PF_D_DW(d) d[223:220]
`define PF_D_PADV(d) d[232:224]
`define PF_D_ZP(d) d[248:240]
`define PF_D_LO(d) d[264:256]
`define PF_D_HI(d) d[280:272]
`define PF_D_AQMIN(d) d[296:288]
`define PF_D_ZA(d) d[312:304]
`define PF_D_ZB(d) d[328:320]
`define PF_D_SHIFT(d) d[341:336]
`define PF_D_MULT_A(d) d[367:352]
`define PF_D_MULT_B(d) d[383:368]
`define PF_D_EXP1(d) d[411:384]
`define PF_D_EXP2(d) d[443:416]
`define PF_D_LEV0(d) d[479:448]
`define PF_D_LEV1(d) d[511:480]
`define PF_D_LEV2(d) d[543:512]
`define PF_D_LEV3(d) d[575:544]
`define PF_D_W_ADDR(d) d[607:576]
`define PF_D_RQ_GROUPS(d) d[623:608]
`define PF_D_TSLOTS(d) d[631:624]
`define PF_D_NTILES(d) d[655:640]
`define PF_D_TILE_BEATS(d) d[663:656]
`define PF_D_PTAB_BEATS(d) d[687:672]
`define PF_D_A_ADDR(d) d[735:704]
`define PF_D_A_RS(d) d[759:736]
`define PF_D_PAD_T(d) d[767:760]
`define PF_D_A_PS(d) d[791:768]
`define PF_D_PAD_L(d) d[799:792]
`define PF_D_A_ROWS(d) d[815:800]
`define PF_D_A_COLS(d) d[831:816]
`define PF_D_B_ADDR(d) d[863:832]
`define PF_D_B_RS(d) d[887:864]
`define PF_D_B_PS(d) d[919:896]
`define PF_D_O_ADDR(d) d[959:928]
`define PF_D_O_RS(d) d[983:960]
`define PF_D_O_PS(d) d[1015:992]

`endif
