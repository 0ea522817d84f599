// hostboard.Flash: a block device (the readblocks/writeblocks/ioctl protocol of vfs.VfsLfs2) kept in
// one file on the emulator's host, lostcard-flash.img in QEMU's working directory, so that a second
// QEMU run finds the flash as the first left it. Code on the board names no host path, and every
// access stays inside the image.
#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"

#include "semihost.h"

#define IMAGE "lostcard-flash.img"

typedef struct {
    mp_obj_base_t base;
    int fd;
    uint32_t block_size;
    uint32_t block_count;
    bool fresh;  // the image was created by this boot: it needs formatting
} flash_obj_t;

static int image_fd = -1;  // opened once per power-on; a soft reset reuses it

// seek to `offset` bytes into `block` for an access of `len` bytes, all inside the image
static void seek_to(flash_obj_t *self, mp_obj_t block_in, mp_int_t offset, size_t len) {
    mp_int_t block = mp_obj_get_int(block_in);
    uint64_t size = (uint64_t)self->block_count * self->block_size;
    if (block < 0 || offset < 0) {
        mp_raise_OSError(MP_EINVAL);
    }
    uint64_t pos = (uint64_t)block * self->block_size + (uint64_t)offset;
    if (pos + len > size || semihost_seek(self->fd, (uint32_t)pos) != 0) {
        mp_raise_OSError(MP_EIO);
    }
}

// readblocks/writeblocks(block, buf[, offset]): 0, or -EIO if the host moved fewer bytes
static mp_obj_t transfer(size_t n_args, const mp_obj_t *args, bool write) {
    flash_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(args[2], &buf, write ? MP_BUFFER_READ : MP_BUFFER_WRITE);
    seek_to(self, args[1], n_args == 4 ? mp_obj_get_int(args[3]) : 0, buf.len);
    uint32_t left = write ? semihost_write(self->fd, buf.buf, buf.len)
        : semihost_read(self->fd, buf.buf, buf.len);
    return MP_OBJ_NEW_SMALL_INT(left == 0 ? 0 : -MP_EIO);
}

static mp_obj_t flash_readblocks(size_t n_args, const mp_obj_t *args) {
    return transfer(n_args, args, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(flash_readblocks_obj, 3, 4, flash_readblocks);

static mp_obj_t flash_writeblocks(size_t n_args, const mp_obj_t *args) {
    return transfer(n_args, args, true);
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

static mp_obj_t flash_fresh(mp_obj_t self_in) {
    flash_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return mp_obj_new_bool(self->fresh);
}
static MP_DEFINE_CONST_FUN_OBJ_1(flash_fresh_obj, flash_fresh);

// Flash(block_count, block_size): the image, created (all 0xff, like erased flash) if there is none,
// then .fresh() is True; an image of another size is refused (EIO), never reformatted here
static mp_obj_t flash_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw,
    const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 2, 2, false);
    mp_int_t count = mp_obj_get_int(args[0]);
    mp_int_t block_size = mp_obj_get_int(args[1]);
    if (count < 2 || count > 65536 || block_size < 128 || block_size > 4096
        || (block_size & (block_size - 1)) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("2..65536 blocks of 128..4096 bytes, a power of two"));
    }
    flash_obj_t *self = mp_obj_malloc(flash_obj_t, type);
    self->block_count = count;
    self->block_size = block_size;
    self->fresh = false;
    uint32_t size = (uint32_t)count * (uint32_t)block_size;
    if (image_fd < 0) {
        image_fd = semihost_open(IMAGE, SEMIHOST_RPLUSB);
        if (image_fd < 0) {
            image_fd = semihost_open(IMAGE, SEMIHOST_WPLUSB);
            if (image_fd < 0) {
                mp_raise_OSError(MP_ENODEV);
            }
            uint8_t erased[64];
            memset(erased, 0xff, sizeof(erased));
            for (uint32_t i = 0; i < size; i += sizeof(erased)) {
                if (semihost_write(image_fd, erased, sizeof(erased)) != 0) {
                    mp_raise_OSError(MP_ENOSPC);
                }
            }
            self->fresh = true;
        }
    }
    if (semihost_length(image_fd) != (int)size) {  // cut short while created, or another board's
        mp_raise_OSError(MP_EIO);
    }
    self->fd = image_fd;
    return MP_OBJ_FROM_PTR(self);
}

static const mp_rom_map_elem_t flash_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&flash_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&flash_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&flash_ioctl_obj) },
    { MP_ROM_QSTR(MP_QSTR_fresh), MP_ROM_PTR(&flash_fresh_obj) },
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
