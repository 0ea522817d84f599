// hostboard.Flash: a block device (the readblocks/writeblocks/ioctl protocol of vfs.VfsLfs2) kept in
// a file on the emulator's host, so that a second QEMU run finds the flash as the first left it.
#include "py/runtime.h"
#include "py/mperrno.h"

#include "semihost.h"

typedef struct {
    mp_obj_base_t base;
    int fd;
    uint32_t block_size;
    uint32_t block_count;
} flash_obj_t;

static void seek_to(flash_obj_t *self, mp_obj_t block, mp_int_t offset) {
    mp_int_t pos = mp_obj_get_int(block) * self->block_size + offset;
    if (pos < 0 || semihost_seek(self->fd, (uint32_t)pos) != 0) {
        mp_raise_OSError(MP_EIO);
    }
}

static mp_obj_t flash_readblocks(size_t n_args, const mp_obj_t *args) {
    flash_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(args[2], &buf, MP_BUFFER_WRITE);
    seek_to(self, args[1], n_args == 4 ? mp_obj_get_int(args[3]) : 0);
    return MP_OBJ_NEW_SMALL_INT(semihost_read(self->fd, buf.buf, buf.len) == 0 ? 0 : -MP_EIO);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(flash_readblocks_obj, 3, 4, flash_readblocks);

static mp_obj_t flash_writeblocks(size_t n_args, const mp_obj_t *args) {
    flash_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(args[2], &buf, MP_BUFFER_READ);
    seek_to(self, args[1], n_args == 4 ? mp_obj_get_int(args[3]) : 0);
    return MP_OBJ_NEW_SMALL_INT(semihost_write(self->fd, buf.buf, buf.len) == 0 ? 0 : -MP_EIO);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(flash_writeblocks_obj, 3, 4, flash_writeblocks);

static mp_obj_t flash_ioctl(mp_obj_t self_in, mp_obj_t op_in, mp_obj_t arg_in) {
    flash_obj_t *self = MP_OBJ_TO_PTR(self_in);
    switch (mp_obj_get_int(op_in)) {
        case 4: // block count
            return MP_OBJ_NEW_SMALL_INT(self->block_count);
        case 5: // block size
            return MP_OBJ_NEW_SMALL_INT(self->block_size);
        case 6: // erase: a file needs none
        default: // init, deinit, sync: nothing to do either
            return MP_OBJ_NEW_SMALL_INT(0);
    }
}
static MP_DEFINE_CONST_FUN_OBJ_3(flash_ioctl_obj, flash_ioctl);

// Flash(path, block_count, block_size): opens the image, creating it (all 0xff, like erased flash)
// if it does not exist; .fresh tells the caller whether it must format it
static mp_obj_t flash_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw,
    const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 3, 3, false);
    const char *path = mp_obj_str_get_str(args[0]);
    flash_obj_t *self = mp_obj_malloc(flash_obj_t, type);
    self->block_count = mp_obj_get_int(args[1]);
    self->block_size = mp_obj_get_int(args[2]);
    self->fd = semihost_open(path, SEMIHOST_RPLUSB);
    if (self->fd < 0) {
        self->fd = semihost_open(path, SEMIHOST_WPLUSB);
        if (self->fd < 0) {
            mp_raise_OSError(MP_ENODEV);
        }
        uint8_t erased[64];
        memset(erased, 0xff, sizeof(erased));
        for (uint32_t i = 0; i < self->block_count * self->block_size; i += sizeof(erased)) {
            if (semihost_write(self->fd, erased, sizeof(erased)) != 0) {
                mp_raise_OSError(MP_ENOSPC);
            }
        }
    }
    return MP_OBJ_FROM_PTR(self);
}

static const mp_rom_map_elem_t flash_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&flash_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&flash_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&flash_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(flash_locals_dict, flash_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    flash_type, MP_QSTR_Flash, MP_TYPE_FLAG_NONE,
    make_new, flash_make_new,
    locals_dict, &flash_locals_dict
    );

static const mp_rom_map_elem_t hostboard_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_hostboard) },
    { MP_ROM_QSTR(MP_QSTR_Flash), MP_ROM_PTR(&flash_type) },
};
static MP_DEFINE_CONST_DICT(hostboard_globals, hostboard_globals_table);

const mp_obj_module_t hostboard_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&hostboard_globals,
};
MP_REGISTER_MODULE(MP_QSTR_hostboard, hostboard_module);
